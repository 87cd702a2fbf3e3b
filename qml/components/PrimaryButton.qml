import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material

// The page's main action: a filled accent button (drawn here, so it looks the same with every
// scene-graph backend, the software one included).
Button {
    id: button
    contentItem: Label {
        text: button.text
        color: "white"
        font.bold: true
        font.capitalization: Font.AllUppercase
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }
    background: Rectangle {
        implicitWidth: 100
        implicitHeight: 36
        radius: 4
        color: !button.enabled ? Material.color(Material.Grey, Material.Shade400)
               : button.down ? Qt.darker(Material.accentColor, 1.25) : Material.accentColor
    }
}
