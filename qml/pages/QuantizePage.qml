import QtQuick
import QtQuick.Controls
import "../components"

PageFrame {
    heading: qsTr("Quantize")
    summary: qsTr("RTN, GPTQ, Q-realign and AAQ at W8A8, W4A4, W4A16 or GGUF-compatible grids, layer by layer with progress and cancel.")

    Label {
        text: qsTr("Not available in this build yet.")
        opacity: 0.6
        font.italic: true
    }
}
