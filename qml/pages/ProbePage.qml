import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Layouts
import QtCharts
import SafeQuant.Controllers
import "../components"

PageFrame {
    id: page
    heading: qsTr("Probe")
    summary: qsTr("A sparse (L1) logistic-regression probe per layer, trained on the target model's last-token states to tell malicious from benign prompts; held-out accuracy and margin per layer, and k-fold cross-validated accuracy as a band. With a quantized run, the same probes read the quantized model's states. Click a layer to see its projection.")
    signal navigate(string key)
    readonly property var probe: Workbench.probe
    property string metric: "accuracy"

    // Cross-validated accuracy (mean ± one standard deviation over the folds) is drawn as a band.
    readonly property bool showCv: metric === "accuracy" && probe.layers.length > 0 && probe.layers[0].cvAccuracy !== undefined

    function refresh() {
        fpSeries.clear(); qSeries.clear(); cvSeries.clear(); cvUpper.clear(); cvLower.clear()
        const layers = probe.layers
        let lo = 1e9, hi = -1e9
        for (let i = 0; i < layers.length; ++i) {
            const l = layers[i]
            const fp = metric === "accuracy" ? l.accuracy : l.margin
            fpSeries.append(l.layer, fp)
            lo = Math.min(lo, fp); hi = Math.max(hi, fp)
            if (showCv) {
                cvSeries.append(l.layer, l.cvAccuracy)
                cvUpper.append(l.layer, Math.min(100, l.cvAccuracy + l.cvAccuracyStd))
                cvLower.append(l.layer, Math.max(0, l.cvAccuracy - l.cvAccuracyStd))
                lo = Math.min(lo, l.cvAccuracy - l.cvAccuracyStd); hi = Math.max(hi, l.cvAccuracy + l.cvAccuracyStd)
            }
            if (probe.hasQuantized) {
                const q = metric === "accuracy" ? l.qAccuracy : l.qMargin
                qSeries.append(l.layer, q)
                lo = Math.min(lo, q); hi = Math.max(hi, q)
            }
        }
        xAxis.max = Math.max(1, layers.length - 1)
        const pad = Math.max(0.5, (hi - lo) * 0.15)
        yAxis.min = metric === "accuracy" ? Math.max(0, lo - pad) : lo - pad
        yAxis.max = metric === "accuracy" ? Math.min(100, hi + pad) : hi + pad
    }
    Connections { target: page.probe; function onChanged() { page.refresh() } }
    onMetricChanged: refresh()
    onShowCvChanged: refresh()
    Component.onCompleted: refresh()
    Shortcut { sequence: "Ctrl+R"; onActivated: page.probe.run(runBox.currentValue || "") }

    ColumnLayout {
        anchors.fill: parent
        spacing: 10
        RowLayout {
            spacing: 12
            PrimaryButton {
                objectName: "runProbe"
                text: qsTr("Run probe")
                enabled: !Workbench.jobs.busy
                onClicked: page.probe.run(runBox.currentValue || "")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Capture, fit and project (Ctrl+R)")
            }
            Label { text: qsTr("Compare with run") }
            ComboBox {
                id: runBox
                Layout.preferredWidth: 280
                textRole: "name"
                valueRole: "dir"
                model: [{ name: qsTr("(full precision only)"), dir: "" }].concat(
                           Workbench.results.runs.filter(r => !r.baseline))
            }
            Item { Layout.fillWidth: true }
            TabBar {
                id: metricBar
                TabButton { text: qsTr("Accuracy"); width: implicitWidth; onClicked: page.metric = "accuracy" }
                TabButton { text: qsTr("Margin"); width: implicitWidth; onClicked: page.metric = "margin" }
            }
        }
        JobBar { Layout.fillWidth: true }
        Label {
            visible: page.probe.layers.length === 0
            text: qsTr("No probe yet: load models and prompts, then Run probe.")
            opacity: 0.6
        }
        Label {
            visible: page.probe.hasQuantized
            text: qsTr("Quantized: %1").arg(page.probe.quantRun)
            opacity: 0.7
            elide: Text.ElideLeft
            Layout.fillWidth: true
        }
        ChartView {
            id: chart
            objectName: "probeChart"
            Layout.fillWidth: true
            Layout.fillHeight: true
            antialiasing: true
            legend.alignment: Qt.AlignBottom
            theme: Material.theme === Material.Dark ? ChartView.ChartThemeDark : ChartView.ChartThemeLight
            ValueAxis { id: xAxis; min: 0; max: 1; tickType: ValueAxis.TicksDynamic; tickInterval: 1; labelFormat: "%d"; titleText: qsTr("layer") }
            ValueAxis { id: yAxis; min: 0; max: 100; titleText: page.metric === "accuracy" ? qsTr("held-out accuracy (%)") : qsTr("margin (probe logit gap)") }
            AreaSeries {
                id: cvBand
                objectName: "cvBand"
                name: qsTr("cross-validated ± 1 sd")
                axisX: xAxis; axisY: yAxis
                color: "#3300897b"
                borderColor: "transparent"
                borderWidth: 0
                visible: page.showCv
                upperSeries: LineSeries { id: cvUpper }
                lowerSeries: LineSeries { id: cvLower }
            }
            LineSeries {
                id: cvSeries
                name: qsTr("cross-validated mean")
                axisX: xAxis; axisY: yAxis
                color: "#00897b"
                width: 2
                style: Qt.DotLine
                visible: page.showCv
            }
            LineSeries {
                id: fpSeries
                name: qsTr("full precision")
                axisX: xAxis; axisY: yAxis
                color: "#00897b"
                width: 3
                pointsVisible: true
                onClicked: point => { page.probe.selectedLayer = Math.round(point.x); page.navigate("projection") }
            }
            LineSeries {
                id: qSeries
                name: qsTr("quantized")
                axisX: xAxis; axisY: yAxis
                color: "#fb8c00"
                width: 3
                style: Qt.DashLine
                pointsVisible: true
                visible: page.probe.hasQuantized
                onClicked: point => { page.probe.selectedLayer = Math.round(point.x); page.navigate("projection") }
            }
        }
        Flow {
            Layout.fillWidth: true
            spacing: 18
            Repeater {
                model: page.probe.layers
                delegate: Label {
                    required property var modelData
                    text: {
                        let t = qsTr("L%1: %2 %").arg(modelData.layer).arg(modelData.accuracy.toFixed(1))
                        if (modelData.cvAccuracy !== undefined)
                            t += qsTr(" (cross-validated %1 ± %2 %)").arg(modelData.cvAccuracy.toFixed(1)).arg(modelData.cvAccuracyStd.toFixed(1))
                        t += qsTr(" · AUC %1 · %2 weights").arg(modelData.auc.toFixed(3)).arg(modelData.nonzero)
                        if (modelData.qAccuracy !== undefined)
                            t += qsTr(" · quantized %1 %").arg(modelData.qAccuracy.toFixed(1))
                        return t
                    }
                    opacity: 0.85
                }
            }
        }
    }
}
