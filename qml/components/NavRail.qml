import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Layouts

// The page list on the left; the pipeline stages in the order a researcher walks them.
Pane {
    id: rail

    property var pages: []
    property int currentIndex: 0
    signal selected(int index)

    padding: 0
    background: Rectangle {
        color: Material.dialogColor
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.topMargin: 12
        spacing: 2

        Repeater {
            model: rail.pages
            delegate: ItemDelegate {
                required property var modelData
                required property int index
                Layout.fillWidth: true
                highlighted: index === rail.currentIndex
                onClicked: rail.selected(index)
                contentItem: RowLayout {
                    spacing: 12
                    Rectangle {
                        Layout.preferredWidth: 28
                        Layout.preferredHeight: 28
                        radius: 14
                        color: index === rail.currentIndex ? Material.accent : Material.color(Material.BlueGrey, Material.Shade300)
                        Label {
                            anchors.centerIn: parent
                            text: modelData.icon
                            color: "white"
                            font.bold: true
                            font.pixelSize: 11
                        }
                    }
                    Label {
                        text: modelData.title
                        font.pixelSize: 15
                        Layout.fillWidth: true
                    }
                    Label {
                        text: "Ctrl+" + (index + 1)
                        opacity: 0.5
                        font.pixelSize: 11
                    }
                }
            }
        }
        Item { Layout.fillHeight: true }
    }
}
