import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Dialogs
import QtQuick.Layouts
import SafeQuant.Controllers
import "../components"

PageFrame {
    id: page
    heading: qsTr("Calibration")
    summary: qsTr("Labelled prompt files (JSONL or CSV): the calibration and probing set, and the held-out sets results are evaluated on. The calibration ratio is the share of malicious prompts drawn for calibration — Q-realign's knob.")
    readonly property var cal: Workbench.calibration

    FileDialog {
        id: fileDialog
        property bool evaluation: false
        title: qsTr("Prompt file")
        nameFilters: [qsTr("Prompt files (*.jsonl *.csv)")]
        onAccepted: {
            const path = decodeURIComponent(selectedFile.toString().replace("file://", ""))
            if (evaluation) page.cal.addEvalFile(path); else page.cal.addFile(path)
        }
    }

    RowLayout {
        anchors.fill: parent
        spacing: 24
        ColumnLayout {
            Layout.preferredWidth: 1
            Layout.maximumWidth: (page.availableWidth - 24) / 2
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 10
            Repeater {
                model: [
                    { title: qsTr("Calibration and probing"), files: page.cal.files, evaluation: false },
                    { title: qsTr("Evaluation"), files: page.cal.evalFiles, evaluation: true }
                ]
                delegate: ColumnLayout {
                    id: fileList
                    required property var modelData
                    spacing: 0
                    Layout.fillWidth: true
                    RowLayout {
                        Layout.fillWidth: true
                        Label { text: modelData.title; font.bold: true; font.pixelSize: 16; Layout.fillWidth: true }
                        Button {
                            text: qsTr("Add file…")
                            flat: true
                            onClicked: { fileDialog.evaluation = modelData.evaluation; fileDialog.open() }
                        }
                    }
                    Repeater {
                        model: modelData.files
                        delegate: RowLayout {
                            required property string modelData
                            required property int index
                            Layout.fillWidth: true
                            Label { text: modelData.split("/").pop(); Layout.fillWidth: true; elide: Text.ElideLeft }
                            ToolButton {
                                text: "✕"
                                onClicked: fileList.modelData.evaluation ? page.cal.removeEvalFile(index) : page.cal.removeFile(index)
                            }
                        }
                    }
                    Label { visible: modelData.files.length === 0; text: qsTr("No files yet."); opacity: 0.6 }
                }
            }
            Label {
                visible: page.cal.error !== ""
                text: page.cal.error
                color: Material.color(Material.Red)
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            Label { text: qsTr("Counts by source"); font.bold: true; font.pixelSize: 16; Layout.topMargin: 8 }
            Repeater {
                model: page.cal.sources
                delegate: Label {
                    required property var modelData
                    text: qsTr("%1: %2 malicious, %3 benign").arg(modelData.source).arg(modelData.malicious).arg(modelData.benign)
                }
            }
            Label {
                text: qsTr("Total: %1 malicious, %2 benign").arg(page.cal.malicious).arg(page.cal.benign)
                font.bold: true
            }
            Label {
                text: qsTr("Probe held-out split (20 % per label, stratified by source): %1 malicious, %2 benign")
                      .arg(page.cal.heldOutMalicious).arg(page.cal.heldOutBenign)
                opacity: 0.8
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            Item { Layout.fillHeight: true }
        }
        ColumnLayout {
            Layout.preferredWidth: 1
            Layout.maximumWidth: (page.availableWidth - 24) / 2
            Layout.fillWidth: true
            Layout.fillHeight: true
            Label { text: qsTr("Calibration draw"); font.bold: true; font.pixelSize: 16; Layout.topMargin: 0 }
            RowLayout {
                spacing: 12
                Label { text: qsTr("Ratio") }
                Slider {
                    id: ratioSlider
                    objectName: "ratioSlider"
                    from: 0; to: 1; stepSize: 0.05
                    value: page.cal.ratio
                    onMoved: page.cal.ratio = value
                    Layout.preferredWidth: 220
                }
                Label { text: qsTr("%1 % malicious").arg(Math.round(page.cal.ratio * 100)) }
            }
            RowLayout {
                spacing: 12
                Label { text: qsTr("Samples") }
                SpinBox {
                    from: 1; to: 100000; editable: true
                    value: page.cal.samples
                    onValueModified: page.cal.samples = value
                }
            }
            Label {
                objectName: "drawLabel"
                text: page.cal.drawError !== "" ? page.cal.drawError
                      : qsTr("Draws %1 malicious and %2 benign prompts").arg(page.cal.drawMalicious).arg(page.cal.drawBenign)
                color: page.cal.drawError !== "" ? Material.color(Material.Red) : Material.foreground
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            GridLayout {
                objectName: "drawComposition"
                visible: page.cal.drawError === "" && page.cal.drawComposition.length > 0
                columns: 4
                columnSpacing: 12
                rowSpacing: 2
                Label { text: qsTr("Source"); font.bold: true }
                Label { text: qsTr("Drawn"); font.bold: true; Layout.alignment: Qt.AlignRight }
                Label { text: qsTr("of draw"); font.bold: true; Layout.alignment: Qt.AlignRight }
                Label { text: qsTr("of pool"); font.bold: true; Layout.alignment: Qt.AlignRight }
                Repeater {
                    model: page.cal.drawComposition
                    delegate: Repeater {
                        id: compositionRow
                        required property var modelData
                        model: [
                            { text: compositionRow.modelData.source + (compositionRow.modelData.label === "malicious" ? " ●" : ""), right: false },
                            { text: qsTr("%1 of %2").arg(compositionRow.modelData.drawn).arg(compositionRow.modelData.population), right: true },
                            { text: compositionRow.modelData.drawShare.toFixed(1) + " %", right: true },
                            { text: compositionRow.modelData.poolShare.toFixed(1) + " %", right: true }
                        ]
                        delegate: Label {
                            required property var modelData
                            text: modelData.text
                            Layout.alignment: modelData.right ? Qt.AlignRight : Qt.AlignLeft
                            color: compositionRow.modelData.label === "malicious" ? Material.color(Material.Red) : Material.foreground
                        }
                    }
                }
            }
            Label {
                visible: page.cal.drawError === "" && page.cal.drawComposition.length > 0
                text: qsTr("Each source keeps its share of its label (● malicious), within one prompt.")
                opacity: 0.7
                font.pixelSize: 12
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            RowLayout {
                Layout.topMargin: 8
                Label { text: qsTr("Prompts (%1)").arg(page.cal.prompts.rowCount()); font.bold: true; font.pixelSize: 16; Layout.fillWidth: true }
                Switch {
                    id: showSwitch
                    text: qsTr("Show prompts")
                    checked: page.cal.prompts.showText
                    onToggled: page.cal.prompts.showText = checked
                }
            }
            Label {
                text: page.cal.prompts.showText
                      ? qsTr("Content warning: the malicious prompts describe harmful requests.")
                      : qsTr("Texts are hidden: the malicious prompts describe harmful requests. Switch \u201cShow prompts\u201d on to read them.")
                color: page.cal.prompts.showText ? Material.color(Material.Orange) : Material.foreground
                opacity: 0.8
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            ListView {
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: page.cal.prompts
                ScrollBar.vertical: ScrollBar {}
                delegate: ItemDelegate {
                    required property string promptId
                    required property string label
                    required property string source
                    required property string promptText
                    width: ListView.view.width
                    contentItem: ColumnLayout {
                        spacing: 2
                        RowLayout {
                            Label { text: promptId; font.bold: true; Layout.fillWidth: true; elide: Text.ElideRight }
                            Label {
                                text: label
                                color: label === "malicious" ? Material.color(Material.Red) : Material.color(Material.Blue)
                            }
                            Label { text: source; opacity: 0.6 }
                        }
                        Label {
                            visible: promptText !== ""
                            text: promptText
                            wrapMode: Text.WordWrap
                            opacity: 0.85
                            Layout.fillWidth: true
                        }
                    }
                }
            }
        }
    }
}
