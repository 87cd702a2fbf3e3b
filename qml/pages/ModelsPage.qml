import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Dialogs
import QtQuick.Layouts
import SafeQuant.Controllers
import "../components"

PageFrame {
    id: page
    heading: qsTr("Models")
    summary: qsTr("Load the model to quantize and, where a method needs them, its aligned reference and unaligned base. Hugging Face folders (config.json, safetensors, tokenizer.json) or the demo models trained by this workbench.")
    readonly property var models: Workbench.models

    FolderDialog {
        id: folderDialog
        property string role: "target"
        title: qsTr("Model folder")
        onAccepted: page.models.setModel(role, decodeURIComponent(selectedFolder.toString().replace("file://", "")))
    }
    Shortcut {
        sequence: "Ctrl+Shift+M"
        onActivated: page.models.useDemoModels()
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 16
        RowLayout {
            spacing: 12
            PrimaryButton {
                text: qsTr("Use demo models")
                onClicked: page.models.useDemoModels()
                ToolTip.visible: hovered
                ToolTip.text: qsTr("The base, aligned and fine-tuned demo models (Ctrl+Shift+M)")
            }
            Label {
                visible: page.models.zooDir !== ""
                text: qsTr("Demo zoo: %1").arg(page.models.zooDir)
                opacity: 0.7
            }
            Item { Layout.fillWidth: true }
            Label { text: qsTr("Compute on") }
            ComboBox {
                objectName: "deviceChoice"
                model: page.models.devices
                currentIndex: page.models.devices.indexOf(page.models.device)
                onActivated: index => page.models.device = page.models.devices[index]
                ToolTip.visible: hovered
                ToolTip.text: page.models.cudaNote === ""
                              ? qsTr("Where probes, quantization and evaluations started from now on load their models")
                              : qsTr("No CUDA device: %1").arg(page.models.cudaNote)
            }
            Label {
                text: qsTr("Recent")
                visible: page.models.recent.length > 0
            }
            ComboBox {
                visible: page.models.recent.length > 0
                Layout.preferredWidth: 320
                model: page.models.recent
                displayText: qsTr("Open a recent folder as target…")
                onActivated: index => page.models.setModel("target", page.models.recent[index])
            }
        }
        GridLayout {
            columns: 3
            columnSpacing: 16
            rowSpacing: 16
            Layout.fillWidth: true
            Repeater {
                model: page.models.models
                delegate: Frame {
                    required property var modelData
                    Layout.fillWidth: true
                    Layout.preferredWidth: 1
                    Layout.alignment: Qt.AlignTop
                    ColumnLayout {
                        anchors.fill: parent
                        spacing: 6
                        RowLayout {
                            Label {
                                text: modelData.roleLabel
                                font.pixelSize: 17
                                font.bold: true
                                Layout.fillWidth: true
                            }
                            Button {
                                text: qsTr("Open…")
                                flat: true
                                onClicked: { folderDialog.role = modelData.role; folderDialog.open() }
                            }
                        }
                        Label {
                            text: modelData.set ? modelData.path : qsTr("Not set")
                            opacity: 0.7
                            elide: Text.ElideLeft
                            Layout.fillWidth: true
                        }
                        Label {
                            visible: modelData.set && !modelData.ok
                            text: modelData.error || ""
                            color: Material.color(Material.Red)
                            wrapMode: Text.WordWrap
                            Layout.fillWidth: true
                        }
                        ColumnLayout {
                            visible: modelData.ok === true
                            spacing: 2
                            Fact { name: qsTr("Architecture"); value: modelData.architecture || "" }
                            Fact { name: qsTr("Layers"); value: String(modelData.layers || "") }
                            Fact { name: qsTr("Hidden size"); value: String(modelData.hidden || "") }
                            Fact { name: qsTr("Heads"); value: modelData.heads || "" }
                            Fact { name: qsTr("Parameters"); value: ((modelData.parameters || 0) / 1e6).toFixed(2) + " M" }
                            Fact { name: qsTr("Dtype"); value: modelData.dtype || "" }
                            Fact { name: qsTr("File size"); value: (modelData.sizeMB || 0).toFixed(1) + " MB" }
                            Fact { name: qsTr("Tokenizer"); value: modelData.tokenizer || "" }
                        }
                    }
                }
            }
        }
        Item { Layout.fillHeight: true }
    }
}
