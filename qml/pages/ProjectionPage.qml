import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Dialogs
import QtQuick.Layouts
import QtCharts
import SafeQuant.Controllers
import "../components"

PageFrame {
    id: page
    heading: qsTr("Projection")
    summary: qsTr("Last-token states of one layer in 2D: the reference model's, and each compared model's (quantized, fine-tuned, realigned) in the same basis fitted on the reference's states: PCA, the probe plane (x = the probe's direction) or t-SNE. Red: malicious; blue: benign.")
    readonly property var probe: Workbench.probe
    property string method: probe.methods.length > 0 ? probe.methods[Math.min(methodBox.currentIndex, probe.methods.length - 1)] : "pca"
    property string hoverText: ""

    // Plot -1 is the reference's; plots 0.. the compared models', in the reference's basis.
    readonly property var plotIndices: [-1].concat(probe.compared.map((c, i) => i))
    function plotTitle(index) {
        if (index < 0) return qsTr("%1 (reference: basis fitted here)").arg(probe.reference.split("/").pop())
        const c = probe.compared[index]
        return qsTr("%1 (same basis)").arg(c.label)
    }
    function refresh() {
        // One set of axes for every plot, padded: the union of all point sets' ranges.
        let x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9
        for (let i = 0; i < plotRepeater.count; ++i) {
            const plot = plotRepeater.itemAt(i)
            if (!plot) continue
            const b = probe.fillSeries(plot.benign, plot.malicious, probe.selectedLayer, method, plot.plotIndex)
            if (b.x0 !== undefined) { x0 = Math.min(x0, b.x0); x1 = Math.max(x1, b.x1); y0 = Math.min(y0, b.y0); y1 = Math.max(y1, b.y1) }
        }
        if (x0 > x1) { x0 = -1; x1 = 1; y0 = -1; y1 = 1 }
        const px = (x1 - x0) * 0.05 + 1e-6, py = (y1 - y0) * 0.05 + 1e-6
        for (let i = 0; i < plotRepeater.count; ++i) {
            const plot = plotRepeater.itemAt(i)
            if (!plot) continue
            plot.axisX.min = x0 - px; plot.axisX.max = x1 + px
            plot.axisY.min = y0 - py; plot.axisY.max = y1 + py
        }
        pointsLayer = -1  // hover lists are read when first needed
    }
    // The points behind the hover text, fetched for the shown layer on the first hover.
    property int pointsLayer: -1
    property var points: ({})
    function hoverPoints(index) {
        if (pointsLayer !== probe.selectedLayer) {
            points = {}
            pointsLayer = probe.selectedLayer
        }
        if (points[index] === undefined) points[index] = probe.points(probe.selectedLayer, method, index)
        return points[index]
    }
    function describe(list, point) {
        let best = -1, bd = 1e30
        for (let i = 0; i < list.length; ++i) {
            const d = (list[i].x - point.x) ** 2 + (list[i].y - point.y) ** 2
            if (d < bd) { bd = d; best = i }
        }
        if (best < 0) return ""
        const p = list[best]
        return qsTr("%1 · %2 · %3").arg(p.id).arg(p.label === 1 ? qsTr("malicious") : qsTr("benign")).arg(p.split)
    }
    Connections { target: page.probe; function onChanged() { page.refresh() } function onSelectedLayerChanged() { page.refresh() } }
    onMethodChanged: refresh()
    Component.onCompleted: refresh()

    FileDialog {
        id: saveCoords
        fileMode: FileDialog.SaveFile
        nameFilters: [qsTr("CSV (*.csv)"), qsTr("JSON (*.json)")]
        onAccepted: page.probe.exportCoordinates(decodeURIComponent(selectedFile.toString().replace("file://", "")))
    }
    FileDialog {
        id: saveImage
        fileMode: FileDialog.SaveFile
        nameFilters: [qsTr("PNG image (*.png)")]
        onAccepted: plots.grabToImage(r => r.saveToFile(decodeURIComponent(selectedFile.toString().replace("file://", ""))))
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8
        RowLayout {
            spacing: 12
            Label { text: qsTr("Layer %1").arg(page.probe.selectedLayer) ; font.bold: true }
            Slider {
                objectName: "layerSlider"
                from: 0
                to: Math.max(0, page.probe.layers.length - 1)
                stepSize: 1
                snapMode: Slider.SnapAlways
                value: page.probe.selectedLayer
                onMoved: page.probe.selectedLayer = Math.round(value)
                Layout.preferredWidth: 260
            }
            ComboBox {
                id: methodBox
                model: page.probe.methods.map(m => m === "pca" ? "PCA" : m === "probe_plane" ? qsTr("probe plane") : "t-SNE")
            }
            Item { Layout.fillWidth: true }
            Button { text: qsTr("Export coordinates…"); flat: true; onClicked: saveCoords.open() }
            Button { text: qsTr("Export image…"); flat: true; onClicked: saveImage.open() }
        }
        Label {
            text: page.hoverText !== "" ? page.hoverText : qsTr("Hover a point for its prompt id and label.")
            opacity: 0.75
        }
        RowLayout {
            id: plots
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 8
            Repeater {
                id: plotRepeater
                model: page.plotIndices
                onItemAdded: page.refresh()
                delegate: ChartView {
                    id: plot
                    required property int modelData
                    readonly property int plotIndex: modelData
                    readonly property alias benign: benignSeries
                    readonly property alias malicious: maliciousSeries
                    readonly property alias axisX: xAxis
                    readonly property alias axisY: yAxis
                    objectName: plotIndex < 0 ? "referenceScatter" : "comparedScatter" + plotIndex
                    title: page.plotTitle(plotIndex)
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    antialiasing: true
                    legend.alignment: Qt.AlignBottom
                    theme: Material.theme === Material.Dark ? ChartView.ChartThemeDark : ChartView.ChartThemeLight
                    ValueAxis { id: xAxis }
                    ValueAxis { id: yAxis }
                    ScatterSeries {
                        id: benignSeries; name: qsTr("benign"); axisX: xAxis; axisY: yAxis
                        color: "#1e88e5"; markerSize: 7; borderColor: "transparent"
                        onHovered: (point, state) => page.hoverText = state ? page.describe(page.hoverPoints(plot.plotIndex), point) : ""
                    }
                    ScatterSeries {
                        id: maliciousSeries; name: qsTr("malicious"); axisX: xAxis; axisY: yAxis
                        color: "#e53935"; markerSize: 7; borderColor: "transparent"
                        onHovered: (point, state) => page.hoverText = state ? page.describe(page.hoverPoints(plot.plotIndex), point) : ""
                    }
                }
            }
            Label {
                visible: page.probe.compared.length === 0
                text: qsTr("Compare a quantization run, or the aligned model's probes, on the Probe page to see other models in this basis.")
                wrapMode: Text.WordWrap
                opacity: 0.6
                Layout.preferredWidth: 220
            }
        }
    }
}
