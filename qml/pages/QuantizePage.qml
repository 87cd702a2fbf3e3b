import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Layouts
import QtCharts
import SafeQuant.Controllers
import "../components"

PageFrame {
    id: page
    heading: qsTr("Quantize")
    summary: qsTr("Quantize the target model block by block (one layer resident at a time) and evaluate the result on the evaluation prompts. RTN and GPTQ are standard PTQ; Q-realign adds the probe objective for malicious calibration prompts; AAQ trains smoothing end to end against the aligned model and away from the base.")
    signal navigate(string key)
    readonly property var quant: Workbench.quantize
    readonly property var currentMethod: quant.methods[methodBox.currentIndex]
    readonly property var settings: ({
        method: currentMethod.name, scheme: schemeBox.editText, samples: samplesBox.value,
        ratio: Workbench.calibration.ratio, lambda: lambdaBox.value / 100, epochs: epochsBox.value,
        seed: seedBox.value, rotate: rotateBox.checked, system: systemField.text,
        mixedBits: mixedBox.checked ? mixedBitsBox.value / 10 : 0
    })
    readonly property string problem: { Workbench.models.target; Workbench.calibration.files; Workbench.models.base; return quant.check(settings) }

    function refreshLoss() {
        lossSeries.clear()
        const l = quant.loss
        let hi = 0, lo = 0
        for (let i = 0; i < l.length; ++i) { lossSeries.append(i, l[i].value); hi = Math.max(hi, l[i].value); lo = Math.min(lo, l[i].value) }
        lossX.max = Math.max(1, l.length - 1)
        lossY.min = lo; lossY.max = Math.max(hi, lo + 1e-3) * 1.05
    }
    Connections { target: page.quant; function onLossChanged() { page.refreshLoss() } function onFinished() { page.navigate("results") } }
    Component.onCompleted: refreshLoss()
    Shortcut { sequence: "Ctrl+Return"; enabled: !Workbench.jobs.busy && page.problem === ""; onActivated: page.quant.start(page.settings) }

    RowLayout {
        anchors.fill: parent
        spacing: 24
        GridLayout {
            columns: 2
            columnSpacing: 12
            rowSpacing: 6
            Layout.alignment: Qt.AlignTop
            Layout.preferredWidth: 420
            Layout.maximumWidth: 420
            Label { text: qsTr("Method") }
            ComboBox {
                id: methodBox; objectName: "methodBox"
                model: page.quant.methods
                textRole: "title"
                currentIndex: page.quant.recommendedMethod
                Layout.fillWidth: true
                ToolTip.visible: hovered
                ToolTip.text: page.currentMethod.summary
            }
            Label { text: qsTr("Scheme") }
            ComboBox {
                id: schemeBox; objectName: "schemeBox"
                editable: true
                enabled: !mixedBox.checked
                model: page.quant.schemes
                Layout.fillWidth: true
                ToolTip.visible: hovered
                ToolTip.text: qsTr("A preset, or custom: w<2-8>a<4|6|8|16>[-g32|-g64|-g128|-gt][-sym|-asym]")
            }
            Label { text: qsTr("Mixed precision") }
            RowLayout {
                CheckBox {
                    id: mixedBox; objectName: "mixedBox"
                    text: qsTr("bits per weight:")
                    enabled: Workbench.sensitivity.units.length > 0
                    ToolTip.visible: hovered
                    ToolTip.text: Workbench.sensitivity.units.length > 0
                                  ? qsTr("Instead of the scheme: each unit at the option the safety-aware allocation picks from the sensitivity table, within this budget")
                                  : qsTr("Measure the target's sensitivity first (Probe page, Sensitivity per unit)")
                }
                SpinBox {
                    id: mixedBitsBox; objectName: "mixedBitsBox"
                    from: 20; to: 90; value: 45; stepSize: 5; editable: true
                    enabled: mixedBox.checked
                    textFromValue: v => (v / 10).toFixed(1)
                    valueFromText: t => Math.round(parseFloat(t) * 10)
                }
            }
            Label { text: qsTr("Calibration ratio") }
            Label { text: qsTr("%1 % malicious (Calibration page)").arg(Math.round(Workbench.calibration.ratio * 100)) }
            Label { text: qsTr("Samples") }
            SpinBox { id: samplesBox; from: 1; to: 100000; value: Workbench.calibration.samples; editable: true }
            Label { text: qsTr("λ (AAQ push-away)") }
            SpinBox {
                id: lambdaBox; from: 0; to: 100; value: Math.round(page.currentMethod.lambda * 100); stepSize: 5; editable: true
                enabled: page.currentMethod.needsBase
                textFromValue: v => (v / 100).toFixed(2)
                valueFromText: t => Math.round(parseFloat(t) * 100)
            }
            Label { text: qsTr("Epochs") }
            SpinBox { id: epochsBox; from: 1; to: 200; value: page.currentMethod.epochs; editable: true }
            Label { text: qsTr("Seed") }
            SpinBox { id: seedBox; from: 0; to: 1000000; value: 0; editable: true }
            Label { text: qsTr("Rotation") }
            CheckBox { id: rotateBox; text: qsTr("Hadamard (QuaRot), for W4A4"); checked: page.currentMethod.rotate }
            Label { text: qsTr("System message") }
            TextField {
                id: systemField
                objectName: "systemField"
                Layout.fillWidth: true
                placeholderText: qsTr("none: the model's chat template as it is")
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Sent before every calibration and evaluation prompt, through the model's own chat template")
            }
            Item { width: 1 }
            RowLayout {
                PrimaryButton {
                    objectName: "startButton"
                    text: qsTr("Start")
                    enabled: !Workbench.jobs.busy && page.problem === ""
                    onClicked: page.quant.start(page.settings)
                    ToolTip.visible: hovered
                    ToolTip.text: qsTr("Quantize and evaluate (Ctrl+Enter)")
                }
            }
            Label { text: qsTr("Sweep ratios"); Layout.topMargin: 16 }
            TextField {
                id: sweepRatios; objectName: "sweepRatios"
                text: "0.25, 0.5, 0.75"
                Layout.fillWidth: true
                Layout.topMargin: 16
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Calibration ratios (share of malicious prompts) to try, separated by commas")
            }
            Label { text: qsTr("Sweep schemes") }
            TextField {
                id: sweepSchemes; objectName: "sweepSchemes"
                text: "w8a8, w4a4"
                Layout.fillWidth: true
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Schemes to try, separated by commas; every ratio with every scheme")
            }
            Item { width: 1 }
            Button {
                objectName: "sweepButton"
                readonly property var ratios: sweepRatios.text.split(/[\s,]+/).filter(t => t !== "").map(Number)
                readonly property var schemes: sweepSchemes.text.split(/[\s,]+/).filter(t => t !== "")
                text: qsTr("Start sweep (%1 runs)").arg(ratios.length * schemes.length)
                enabled: !Workbench.jobs.busy && page.problem === "" && ratios.length * schemes.length > 0
                onClicked: page.quant.startSweep(page.settings, ratios, schemes)
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Quantize and evaluate every combination with the method above, one run after another; Results shows the table and the Pareto chart")
            }
            Label {
                Layout.columnSpan: 2
                visible: page.quant.sweepError !== ""
                text: page.quant.sweepError
                color: Material.color(Material.Orange)
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            Label {
                Layout.columnSpan: 2
                visible: page.problem !== ""
                text: page.problem
                color: Material.color(Material.Orange)
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
        }
        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            JobBar { Layout.fillWidth: true }
            Label {
                visible: page.quant.lastRun !== ""
                text: qsTr("Last run: %1").arg(page.quant.lastRun)
                opacity: 0.7
                elide: Text.ElideLeft
                Layout.fillWidth: true
            }
            ChartView {
                objectName: "lossChart"
                title: qsTr("Training loss (per epoch: block loss by layer, or the AAQ objective)")
                Layout.fillWidth: true
                Layout.fillHeight: true
                antialiasing: true
                legend.visible: false
                theme: Material.theme === Material.Dark ? ChartView.ChartThemeDark : ChartView.ChartThemeLight
                ValueAxis { id: lossX; min: 0; max: 1; labelFormat: "%d"; titleText: qsTr("epoch (all layers in order)") }
                ValueAxis { id: lossY; min: 0; max: 1 }
                LineSeries { id: lossSeries; axisX: lossX; axisY: lossY; pointsVisible: true; width: 2 }
            }
        }
    }
}
