import QtQuick
import QtQuick.Controls
import "../components"

PageFrame {
    heading: qsTr("Projection")
    summary: qsTr("Last-token activations in 2D (PCA, probe plane, t-SNE), before and after quantization in the same basis.")

    Label {
        text: qsTr("Not available in this build yet.")
        opacity: 0.6
        font.italic: true
    }
}
