import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// One "name: value" line of a card.
RowLayout {
    property string name
    property string value
    spacing: 8
    Label {
        text: parent.name
        opacity: 0.65
        Layout.preferredWidth: 110
    }
    Label {
        text: parent.value
        font.bold: true
        elide: Text.ElideMiddle
        Layout.fillWidth: true
    }
}
