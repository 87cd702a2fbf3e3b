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
    summary: qsTr("A sparse (L1) logistic-regression probe per layer, trained on a reference model's last-token states to tell malicious from benign prompts; held-out accuracy and margin per layer, and k-fold cross-validated accuracy as a band. The same probes then read compared models' states: the target under a quantization run, or, with the aligned model as the reference, the fine-tuned target (drift) and the target under a run (realignment). Click a layer to see its projection.")
    signal navigate(string key)
    readonly property var probe: Workbench.probe
    property string metric: "accuracy"

    // Cross-validated accuracy (mean ± one standard deviation over the folds) is drawn as a band.
    readonly property bool showCv: metric === "accuracy" && probe.layers.length > 0 && probe.layers[0].cvAccuracy !== undefined

    // One dashed line per compared model, made when the probe folder changes.
    readonly property var palette: ["#fb8c00", "#8e24aa", "#6d4c41", "#546e7a"]
    property var comparedSeries: []
    function metricName() {
        return metric === "accuracy" ? "accuracy" : metric === "maliciousSide" ? "maliciousSide" : "margin"
    }
    function refresh() {
        fpSeries.clear(); cvSeries.clear(); cvUpper.clear(); cvLower.clear()
        for (const s of comparedSeries) chart.removeSeries(s)
        const made = []
        for (let c = 0; c < probe.compared.length; ++c) {
            const s = chart.createSeries(ChartView.SeriesTypeLine, probe.compared[c].label, xAxis, yAxis)
            s.color = palette[c % palette.length]
            s.width = 3
            s.style = Qt.DashLine
            s.pointsVisible = true
            s.clicked.connect(point => { page.probe.selectedLayer = Math.round(point.x); page.navigate("projection") })
            made.push(s)
        }
        comparedSeries = made
        const layers = probe.layers
        let lo = 1e9, hi = -1e9
        for (let i = 0; i < layers.length; ++i) {
            const l = layers[i]
            // The reference's own malicious-side share is its accuracy on malicious prompts; the
            // chart shows the compared models' against the reference's accuracy.
            const fp = metric === "margin" ? l.margin : l.accuracy
            fpSeries.append(l.layer, fp)
            lo = Math.min(lo, fp); hi = Math.max(hi, fp)
            if (showCv) {
                cvSeries.append(l.layer, l.cvAccuracy)
                cvUpper.append(l.layer, Math.min(100, l.cvAccuracy + l.cvAccuracyStd))
                cvLower.append(l.layer, Math.max(0, l.cvAccuracy - l.cvAccuracyStd))
                lo = Math.min(lo, l.cvAccuracy - l.cvAccuracyStd); hi = Math.max(hi, l.cvAccuracy + l.cvAccuracyStd)
            }
            for (let c = 0; c < made.length && c < l.compared.length; ++c) {
                const q = l.compared[c][metricName()]
                made[c].append(l.layer, q)
                lo = Math.min(lo, q); hi = Math.max(hi, q)
            }
        }
        xAxis.max = Math.max(1, layers.length - 1)
        const pad = Math.max(0.5, (hi - lo) * 0.15)
        const percent = metric !== "margin"
        yAxis.min = percent ? Math.max(0, lo - pad) : lo - pad
        yAxis.max = percent ? Math.min(100, hi + pad) : hi + pad
    }
    Connections { target: page.probe; function onChanged() { page.refresh() } }
    onMetricChanged: refresh()
    onShowCvChanged: refresh()
    Component.onCompleted: refresh()
    Shortcut { sequence: "Ctrl+R"; onActivated: page.probe.run(runBox.currentValue || "", false, fromAligned.checked) }

    ColumnLayout {
        anchors.fill: parent
        spacing: 10
        RowLayout {
            spacing: 12
            PrimaryButton {
                objectName: "runProbe"
                text: qsTr("Run probe")
                enabled: !Workbench.jobs.busy
                onClicked: page.probe.run(runBox.currentValue || "", false, fromAligned.checked)
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Capture, fit and project (Ctrl+R)")
            }
            Label { text: qsTr("Compare with run") }
            ComboBox {
                id: runBox
                Layout.preferredWidth: 240
                textRole: "name"
                valueRole: "dir"
                model: [{ name: qsTr("(full precision only)"), dir: "" }].concat(
                           Workbench.results.runs.filter(r => !r.baseline))
                // The run chosen on the Results page (its table or Pareto chart).
                currentIndex: Math.max(0, model.findIndex(r => r.dir !== "" && r.dir === Workbench.results.selectedRun))
            }
            CheckBox {
                id: fromAligned
                objectName: "fromAligned"
                text: qsTr("Probes of the aligned model")
                enabled: Workbench.models.aligned !== ""
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Fit the probes on the aligned model and read the target (its drift) and the target under the run (its realignment) with them")
            }
            Item { Layout.fillWidth: true }
        }
        JobBar { Layout.fillWidth: true }
        TabBar {
            id: viewBar
            objectName: "probeViews"
            TabButton { text: qsTr("Probes per layer"); width: implicitWidth }
            TabButton { objectName: "sensitivityTab"; text: qsTr("Sensitivity per unit"); width: implicitWidth }
        }
        StackLayout {
            currentIndex: viewBar.currentIndex
            Layout.fillWidth: true
            Layout.fillHeight: true
            ColumnLayout {
                spacing: 10
                Label {
                    visible: page.probe.layers.length === 0
                    text: qsTr("No probe yet: load models and prompts, then Run probe.")
                    opacity: 0.6
                }
                RowLayout {
                    Layout.fillWidth: true
                    Label {
                        visible: page.probe.layers.length > 0
                        text: {
                            let t = qsTr("Probes of %1").arg(page.probe.reference)
                            for (const c of page.probe.compared)
                                t += qsTr(" · %1: %2%3").arg(c.label).arg(c.model).arg(c.quantRun !== "" ? qsTr(" under %1").arg(c.quantRun) : "")
                            return t
                        }
                        opacity: 0.7
                        elide: Text.ElideLeft
                        Layout.fillWidth: true
                        Layout.minimumWidth: 100
                    }
                    TabBar {
                        id: metricBar
                        TabButton { text: qsTr("Accuracy"); width: implicitWidth; onClicked: page.metric = "accuracy" }
                        TabButton { text: qsTr("Margin"); width: implicitWidth; onClicked: page.metric = "margin" }
                        TabButton { text: qsTr("Malicious side"); width: implicitWidth; onClicked: page.metric = "maliciousSide" }
                    }
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
                    ValueAxis {
                        id: yAxis; min: 0; max: 100
                        titleText: page.metric === "accuracy" ? qsTr("held-out accuracy (%)")
                                 : page.metric === "maliciousSide" ? qsTr("malicious prompts on the malicious side (%); reference: accuracy")
                                 : qsTr("margin (probe logit gap)")
                    }
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
                        name: qsTr("reference (%1)").arg(page.probe.reference.split("/").pop())
                        axisX: xAxis; axisY: yAxis
                        color: "#00897b"
                        width: 3
                        pointsVisible: true
                        onClicked: point => { page.probe.selectedLayer = Math.round(point.x); page.navigate("projection") }
                    }
                }
                Label {
                    visible: page.probe.note.length > 0
                    text: page.probe.note
                    opacity: 0.75
                    font.pixelSize: 12
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                }
                Label {
                    visible: page.probe.compared.length > 0
                    text: qsTr("Per layer: held-out accuracy (cross-validated), AUC, weights; each compared model: accuracy / malicious prompts on the malicious side")
                    opacity: 0.6
                    font.pixelSize: 12
                }
                Flow {
                    Layout.fillWidth: true
                    spacing: 18
                    Repeater {
                        model: page.probe.layers
                        delegate: Label {
                            required property var modelData
                            width: Math.min(implicitWidth, page.width - 60)
                            wrapMode: Text.WordWrap
                            text: {
                                let t = qsTr("L%1: %2 %").arg(modelData.layer).arg(modelData.accuracy.toFixed(1))
                                if (modelData.cvAccuracy !== undefined)
                                    t += qsTr(" (cv %1 ± %2)").arg(modelData.cvAccuracy.toFixed(1)).arg(modelData.cvAccuracyStd.toFixed(1))
                                t += qsTr(" · AUC %1 · %2 weights").arg(modelData.auc.toFixed(3)).arg(modelData.nonzero)
                                for (let c = 0; c < modelData.compared.length && c < page.probe.compared.length; ++c)
                                    t += qsTr(" · %1 %2 % / %3 %").arg(page.probe.compared[c].label)
                                             .arg(modelData.compared[c].accuracy.toFixed(1)).arg(modelData.compared[c].maliciousSide.toFixed(1))
                                return t
                            }
                            opacity: 0.85
                        }
                    }
                }
            }
            ColumnLayout {
                id: sensitivityView
                spacing: 10
                property string metric: "safety"
                readonly property var sensitivity: Workbench.sensitivity
                RowLayout {
                    spacing: 12
                    PrimaryButton {
                        objectName: "runSensitivity"
                        text: qsTr("Measure sensitivity")
                        enabled: !Workbench.jobs.busy
                        onClicked: sensitivityView.sensitivity.run()
                        ToolTip.visible: hovered
                        ToolTip.text: qsTr("Quantize each unit of the target alone at W8, W6, W4, W3 and W2 (groups of 32) and compare its replies with full precision, as safequant sensitivity does")
                    }
                    TabBar {
                        TabButton { text: qsTr("Safety KL"); width: implicitWidth; onClicked: sensitivityView.metric = "safety" }
                        TabButton { text: qsTr("Utility KL"); width: implicitWidth; onClicked: sensitivityView.metric = "utility" }
                        TabButton { text: qsTr("Refusal log-prob change"); width: implicitWidth; onClicked: sensitivityView.metric = "refusal" }
                        TabButton { text: qsTr("Bytes"); width: implicitWidth; onClicked: sensitivityView.metric = "bytes" }
                    }
                    Item { Layout.fillWidth: true }
                }
                Label {
                    visible: sensitivityView.sensitivity.units.length === 0
                    text: qsTr("No sensitivity table yet: load models and prompts, then Measure sensitivity (or safequant sensitivity --out <workspace>/sensitivity).")
                    opacity: 0.6
                }
                Label {
                    visible: sensitivityView.sensitivity.units.length > 0
                    text: sensitivityView.metric === "safety" ? qsTr("KL of the first reply tokens on malicious prompts, each unit quantized alone against full precision; logarithmic colour")
                        : sensitivityView.metric === "utility" ? qsTr("KL of the first reply tokens on benign prompts; logarithmic colour")
                        : sensitivityView.metric === "refusal" ? qsTr("Change of the log-probability of the model's own refusals (negative: refusing becomes less likely)")
                        : qsTr("The unit's weights as deployed at each option")
                    opacity: 0.7
                    font.pixelSize: 12
                }
                ScrollView {
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    clip: true
                    HeatMap {
                        objectName: "sensitivityMap"
                        width: Math.max(implicitWidth, sensitivityView.width - 20)
                        rows: sensitivityView.sensitivity.units
                        columns: sensitivityView.sensitivity.options
                        values: sensitivityView.sensitivity.units.length > 0 ? sensitivityView.sensitivity.cells(sensitivityView.metric) : []
                    }
                }
                Label {
                    visible: sensitivityView.sensitivity.summary.length > 0
                    text: sensitivityView.sensitivity.summary
                    opacity: 0.6
                    font.pixelSize: 12
                    elide: Text.ElideLeft
                    Layout.fillWidth: true
                }
            }
        }
    }
}
