import QtQuick
import QtQuick.Controls
import "../components"

PageFrame {
    heading: qsTr("Calibration")
    summary: qsTr("Prompt sets labelled malicious or benign, the calibration ratio (share of malicious samples) and the held-out split. Prompt texts stay hidden unless you choose to show them.")

    Label {
        text: qsTr("Not available in this build yet.")
        opacity: 0.6
        font.italic: true
    }
}
