import QtQuick
import QtQuick.Controls
import "../components"

PageFrame {
    heading: qsTr("Export")
    summary: qsTr("One click writes the selected run as GGUF for llama.cpp, compressed-tensors for vLLM or a plain bf16 checkpoint, atomically, with a manifest.")

    Label {
        text: qsTr("Not available in this build yet.")
        opacity: 0.6
        font.italic: true
    }
}
