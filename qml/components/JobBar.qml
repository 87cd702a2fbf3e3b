import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Layouts
import SafeQuant.Controllers

// The shared job's progress, ETA, cancel button and last error, for the pages that start jobs.
RowLayout {
    id: bar
    readonly property var jobs: Workbench.jobs
    spacing: 12
    visible: jobs.busy || jobs.error !== ""

    ProgressBar {
        Layout.preferredWidth: 240
        visible: bar.jobs.busy
        indeterminate: bar.jobs.progress < 0
        value: Math.max(0, bar.jobs.progress)
    }
    Label {
        visible: bar.jobs.busy
        text: bar.jobs.job + ": " + bar.jobs.stage + (bar.jobs.eta !== "" ? " · " + bar.jobs.eta : "")
        opacity: 0.8
    }
    Button {
        visible: bar.jobs.busy
        text: qsTr("Cancel")
        onClicked: bar.jobs.cancel()
        ToolTip.visible: hovered
        ToolTip.text: qsTr("Stop the running job (Esc)")
    }
    Shortcut {
        sequence: "Esc"
        enabled: bar.jobs.busy
        onActivated: bar.jobs.cancel()
    }
    Label {
        visible: !bar.jobs.busy && bar.jobs.error !== ""
        text: bar.jobs.error === "cancelled" ? qsTr("Cancelled.") : qsTr("Failed: %1").arg(bar.jobs.error)
        color: bar.jobs.error === "cancelled" ? Material.foreground : Material.color(Material.Red)
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
    }
}
