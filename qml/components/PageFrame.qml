import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// The common frame of a page: a title, what the page is for, and the page's own content below.
Page {
    id: frame

    property string heading
    property string summary
    default property alias content: body.data

    padding: 24

    ColumnLayout {
        anchors.fill: parent
        spacing: 12
        Label {
            text: frame.heading
            font.pixelSize: 26
            font.bold: true
        }
        Label {
            text: frame.summary
            wrapMode: Text.WordWrap
            opacity: 0.8
            font.pixelSize: 14
            Layout.fillWidth: true
        }
        Item {
            id: body
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
    }
}
