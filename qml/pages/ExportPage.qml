import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Layouts
import SafeQuant.Controllers
import "../components"

PageFrame {
    id: page
    heading: qsTr("Export")
    summary: qsTr("Write the selected run in a format real runtimes load: GGUF for llama.cpp, compressed-tensors for vLLM, or a plain bf16 checkpoint. Each format says whether the file holds exactly the evaluated weights. The folder gets a manifest with every file's SHA-256.")
    readonly property var exporter: Workbench.exporter
    readonly property var choices: [{ name: qsTr("Target model, full precision"), dir: "" }].concat(Workbench.results.runs.filter(r => !r.baseline))
    // The run chosen on the Results page (its table or Pareto chart), else the newest.
    property int runIndex: {
        const chosen = choices.findIndex(c => c.dir !== "" && c.dir === Workbench.results.selectedRun)
        return chosen >= 0 ? chosen : (choices.length > 1 ? choices.length - 1 : 0)
    }
    readonly property string runDir: choices[Math.min(runIndex, choices.length - 1)].dir
    readonly property var checks: { Workbench.models.target; return exporter.checks(runDir) }
    property string format: ""

    ColumnLayout {
        anchors.fill: parent
        spacing: 10
        RowLayout {
            Label { text: qsTr("Run") }
            ComboBox {
                objectName: "runBox"
                Layout.preferredWidth: 420
                model: page.choices
                textRole: "name"
                currentIndex: page.runIndex
                onActivated: index => page.runIndex = index
            }
        }
        ButtonGroup { id: formats }
        Repeater {
            model: page.checks
            delegate: RowLayout {
                required property var modelData
                spacing: 12
                RadioButton {
                    ButtonGroup.group: formats
                    text: modelData.format
                    enabled: modelData.allowed
                    checked: page.format === modelData.format
                    onClicked: page.format = modelData.format
                    Layout.preferredWidth: 130
                }
                Label {
                    text: modelData.exact ? qsTr("exact") : modelData.allowed ? "" : qsTr("refused")
                    color: modelData.exact ? Material.color(Material.Green) : Material.color(Material.Red)
                    font.bold: true
                    Layout.preferredWidth: 60
                }
                Label {
                    text: modelData.note
                    wrapMode: Text.WordWrap
                    opacity: modelData.allowed ? 0.85 : 0.6
                    Layout.fillWidth: true
                    Layout.maximumWidth: 820
                }
            }
        }
        RowLayout {
            Label { text: qsTr("Output folder") }
            TextField {
                id: outField
                Layout.preferredWidth: 520
                text: page.format !== "" ? page.exporter.defaultOutDir(page.runDir, page.format) : ""
                placeholderText: qsTr("choose a format")
            }
            PrimaryButton {
                objectName: "exportButton"
                text: qsTr("Export")
                enabled: page.format !== "" && outField.text !== "" && !Workbench.jobs.busy
                onClicked: page.exporter.exportRun(page.runDir, page.format, outField.text)
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Write it (Ctrl+E)")
            }
            Shortcut {
                sequence: "Ctrl+E"
                enabled: page.format !== "" && outField.text !== "" && !Workbench.jobs.busy
                onActivated: page.exporter.exportRun(page.runDir, page.format, outField.text)
            }
        }
        JobBar { Layout.fillWidth: true }
        Label {
            visible: page.exporter.resultPath !== ""
            text: qsTr("Written: %1 (%2 MB)").arg(page.exporter.resultPath).arg(page.exporter.resultSizeMB.toFixed(2))
            font.bold: true
        }
        ScrollView {
            visible: page.exporter.manifest !== ""
            Layout.fillWidth: true
            Layout.fillHeight: true
            TextArea {
                readOnly: true
                text: page.exporter.manifest
                font.family: "monospace"
                font.pixelSize: 12
            }
        }
        Item { Layout.fillHeight: true; visible: page.exporter.manifest === "" }
    }
}
