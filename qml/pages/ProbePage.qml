import QtQuick
import QtQuick.Controls
import "../components"

PageFrame {
    heading: qsTr("Probe")
    summary: qsTr("Per-layer sparse logistic-regression probes: how well each layer separates malicious from benign prompts, for the full-precision model and its quantized versions.")

    Label {
        text: qsTr("Not available in this build yet.")
        opacity: 0.6
        font.italic: true
    }
}
