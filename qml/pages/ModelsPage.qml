import QtQuick
import QtQuick.Controls
import "../components"

PageFrame {
    heading: qsTr("Models")
    summary: qsTr("Load the model to quantize and, where a method needs them, its aligned reference and unaligned base. Hugging Face folders (config.json, safetensors, tokenizer.json) or the demo models trained by this workbench.")

    Label {
        text: qsTr("Not available in this build yet.")
        opacity: 0.6
        font.italic: true
    }
}
