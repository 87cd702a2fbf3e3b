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
    heading: qsTr("Results")
    summary: qsTr("Safety and utility of every run next to the full-precision models: harmful score (share of malicious prompts not refused; lower is safer), over-refusal of benign prompts, task accuracy and perplexity, with size and time. The scatter shows the trade-off at a glance.")
    signal navigate(string key)
    readonly property var runs: Workbench.results.runs

    function fmt(v, d) { return v === undefined || v === null ? "—" : Number(v).toFixed(d) }
    function refresh() {
        harmfulSet.values = runs.map(r => r.harmful === undefined ? 0 : r.harmful)
        taskSet.values = runs.map(r => r.task === undefined ? 0 : r.task)
        barAxis.categories = runs.map((r, i) => String(i + 1))
        scatter.clear(); fpScatter.clear()
        for (const r of runs)
            if (r.harmful !== undefined && r.task !== undefined) (r.baseline ? fpScatter : scatter).append(r.task, r.harmful)
    }
    onRunsChanged: refresh()
    Component.onCompleted: { Workbench.results.reload(); refresh() }

    // The efficacy table of every method on the demo zoo (safequant efficacy), shipped or chosen.
    function showEfficacy(path) {
        efficacyText.text = Workbench.results.readEfficacyTable(path)
        efficacyDialog.title = path
        efficacyDialog.open()
    }
    FolderDialog {
        id: openSweepDialog
        title: qsTr("Sweep folder (safequant sweep)")
        onAccepted: Workbench.results.openSweep(decodeURIComponent(selectedFolder.toString().replace("file://", "")))
    }
    FileDialog {
        id: openEfficacy
        nameFilters: [qsTr("Efficacy table (*.md)")]
        onAccepted: page.showEfficacy(decodeURIComponent(selectedFile.toString().replace("file://", "")))
    }
    Dialog {
        id: efficacyDialog
        objectName: "efficacyDialog"
        modal: true
        anchors.centerIn: parent
        width: page.width * 0.92
        height: page.height * 0.92
        standardButtons: Dialog.Close
        ColumnLayout {
            anchors.fill: parent
            Label {
                visible: Workbench.results.efficacyError !== ""
                text: Workbench.results.efficacyError
                color: "#e53935"
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            ScrollView {
                Layout.fillWidth: true
                Layout.fillHeight: true
                TextArea {
                    id: efficacyText
                    objectName: "efficacyText"
                    readOnly: true
                    selectByMouse: true
                    textFormat: TextEdit.MarkdownText
                    wrapMode: TextEdit.WordWrap
                }
            }
        }
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8
        RowLayout {
            Button {
                text: qsTr("Evaluate full-precision models")
                enabled: !Workbench.jobs.busy
                onClicked: Workbench.results.evaluateBaseline()
            }
            Button { text: qsTr("Reload"); flat: true; onClicked: Workbench.results.reload() }
            Button {
                objectName: "efficacyButton"
                text: qsTr("Efficacy table")
                flat: true
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Every method on the demo zoo, 3 calibration seeds, with McNemar tests (safequant efficacy)")
                onClicked: Workbench.results.shippedEfficacyTable !== "" ? page.showEfficacy(Workbench.results.shippedEfficacyTable) : openEfficacy.open()
            }
            Button { text: qsTr("Open efficacy table…"); flat: true; onClicked: openEfficacy.open() }
            JobBar { Layout.fillWidth: true }
        }
        // Sweeps: the workspace's, or any sweep folder; the open one's runs join the table.
        RowLayout {
            Label { text: qsTr("Sweep") }
            ComboBox {
                objectName: "sweepBox"
                Layout.preferredWidth: 260
                model: Workbench.results.sweeps.map(d => d.split("/").pop())
                displayText: Workbench.results.sweep.name || (Workbench.results.sweeps.length ? qsTr("Open a sweep of this workspace…") : qsTr("No sweeps in this workspace"))
                enabled: Workbench.results.sweeps.length > 0
                onActivated: index => Workbench.results.openSweep(Workbench.results.sweeps[index])
            }
            Button { text: qsTr("Open sweep folder…"); flat: true; onClicked: openSweepDialog.open() }
            Label {
                objectName: "sweepError"
                visible: !!Workbench.results.sweep.error
                text: Workbench.results.sweep.error || ""
                color: "#e53935"
                elide: Text.ElideMiddle
                Layout.fillWidth: true
            }
            Label {
                visible: Workbench.results.selectedRun !== ""
                text: qsTr("Chosen for Probe and Export: %1").arg(Workbench.results.selectedRun)
                opacity: 0.7
                elide: Text.ElideLeft
                Layout.fillWidth: true
            }
        }
        // The table: one row per run; it scrolls once the runs (a sweep's, say) outgrow the room
        // the charts leave.
        ScrollView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: 120
            contentWidth: availableWidth
            clip: true
            GridLayout {
                objectName: "resultsTable"
                width: parent.width
                columns: 14
                columnSpacing: 12
                rowSpacing: 4
                Repeater {
                    // "Judged %" and kappa: a safety judge's harmful score and its agreement with
                    // the refusal phrases, where the evaluation had a judge (eval --judge).
                    model: [qsTr("#"), qsTr("Run"), qsTr("Method"), qsTr("Scheme"), qsTr("Harmful %"), qsTr("Judged %"), qsTr("κ"), qsTr("Over-refusal %"),
                            qsTr("XSTest-safe refused %"), qsTr("Task %"), qsTr("Perplexity"), qsTr("Size MB"), qsTr("Time s"), qsTr("")]
                    delegate: Label { required property string modelData; text: modelData; font.bold: true; opacity: 0.7 }
                }
                Repeater {
                    model: page.runs.length * 14
                    delegate: Item {
                        required property int index
                        readonly property var run: page.runs[Math.floor(index / 14)]
                        readonly property int column: index % 14
                        implicitWidth: column === 13 ? probeButton.implicitWidth : cell.implicitWidth
                        implicitHeight: column === 13 ? probeButton.implicitHeight : cell.implicitHeight
                        Label {
                            id: cell
                            visible: parent.column !== 13
                            text: [String(Math.floor(parent.index / 14) + 1), parent.run.name, parent.run.method, parent.run.scheme,
                                   page.fmt(parent.run.harmful, 1), page.fmt(parent.run.judged, 1), page.fmt(parent.run.kappa, 2),
                                   page.fmt(parent.run.overRefusal, 1),
                                   page.fmt(parent.run.overRefusalXstest, 1), page.fmt(parent.run.task, 1),
                                   page.fmt(parent.run.perplexity, 2), page.fmt(parent.run.sizeMB, 2), page.fmt(parent.run.seconds, 1), ""][parent.column]
                            font.bold: parent.column === 4
                        }
                        Button {
                            id: probeButton
                            visible: parent.column === 13 && !parent.run.baseline
                            text: qsTr("Probe")
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Probe the full-precision and this run's states with the same probes")
                            flat: true
                            enabled: !Workbench.jobs.busy
                            onClicked: { Workbench.results.selectedRun = parent.run.dir; Workbench.probe.run(parent.run.dir); page.navigate("probe") }
                        }
                    }
                }
            }
        }
        Label {
            visible: page.runs.length === 0
            text: qsTr("No runs yet: quantize a model on the Quantize page.")
            opacity: 0.6
        }
        // The charts keep the height their axes and labels need.
        RowLayout {
            Layout.fillWidth: true
            Layout.preferredHeight: 280
            Layout.minimumHeight: 280
            ChartView {
                objectName: "barChart"
                title: qsTr("Harmful score and task accuracy by run (#)")
                Layout.fillWidth: true
                Layout.fillHeight: true
                antialiasing: true
                legend.alignment: Qt.AlignBottom
                theme: Material.theme === Material.Dark ? ChartView.ChartThemeDark : ChartView.ChartThemeLight
                BarSeries {
                    axisX: BarCategoryAxis { id: barAxis }
                    axisY: ValueAxis { min: 0; max: 100 }
                    BarSet { id: harmfulSet; label: qsTr("harmful %"); color: "#e53935" }
                    BarSet { id: taskSet; label: qsTr("task accuracy %"); color: "#43a047" }
                }
            }
            // An open sweep: its Pareto chart, the same one safequant sweep writes as pareto.png.
            ParetoChartItem {
                id: pareto
                objectName: "paretoChart"
                visible: sweepDir !== ""
                sweepDir: Workbench.results.sweep.error ? "" : (Workbench.results.sweep.dir || "")
                Layout.fillWidth: true
                Layout.fillHeight: true
                onRunClicked: (index, quantRun) => Workbench.results.selectedRun = quantRun
                ToolTip {
                    visible: pareto.hoverText !== ""
                    text: pareto.hoverText
                    x: pareto.hoverPosition.x + 12
                    y: pareto.hoverPosition.y + 12
                }
                Connections { target: Workbench.results; function onChanged() { pareto.reload() } }
            }
            ChartView {
                objectName: "tradeoffChart"
                visible: !pareto.visible
                title: qsTr("Trade-off: harmful score vs task accuracy")
                Layout.fillWidth: true
                Layout.fillHeight: true
                antialiasing: true
                legend.alignment: Qt.AlignBottom
                theme: Material.theme === Material.Dark ? ChartView.ChartThemeDark : ChartView.ChartThemeLight
                ValueAxis { id: tx; min: 0; max: 100; titleText: qsTr("task accuracy %") }
                ValueAxis { id: ty; min: 0; max: 100; titleText: qsTr("harmful score %") }
                ScatterSeries { id: scatter; name: qsTr("quantized runs"); axisX: tx; axisY: ty; markerSize: 12; color: "#fb8c00" }
                ScatterSeries { id: fpScatter; name: qsTr("full precision"); axisX: tx; axisY: ty; markerSize: 12; color: "#546e7a" }
            }
        }
    }
}
