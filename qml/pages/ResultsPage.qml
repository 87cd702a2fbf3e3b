import QtQuick
import QtQuick.Controls
import "../components"

PageFrame {
    heading: qsTr("Results")
    summary: qsTr("Harmful score, over-refusal, task accuracy and perplexity of every run side by side, and the safety/utility trade-off at a glance.")

    Label {
        text: qsTr("Not available in this build yet.")
        opacity: 0.6
        font.italic: true
    }
}
