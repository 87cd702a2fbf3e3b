import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Layouts
import SafeQuant.Controllers

// Build and machine facts, always visible at the bottom of the window.
ToolBar {
    background: Rectangle {
        implicitHeight: 28
        color: Material.color(Material.BlueGrey, Material.Shade800)
    }
    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 16
        anchors.rightMargin: 16
        Label {
            text: qsTr("SafeQuant %1 · LibTorch %2 · %3 · %4")
                  .arg(AppInfo.version).arg(AppInfo.torchVersion)
                  .arg(AppInfo.threads === 1 ? qsTr("1 thread") : qsTr("%1 threads").arg(AppInfo.threads)).arg(AppInfo.cuda)
            color: "white"
            font.pixelSize: 12
            Layout.fillWidth: true
        }
    }
}
