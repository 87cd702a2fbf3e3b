import QtQuick
import QtQuick.Controls
import QtQuick.Controls.Material
import QtQuick.Layouts
import "components"
import "pages"

ApplicationWindow {
    id: window

    // Set from the command line (--page NAME, --dark).
    property string initialPage: "models"
    property bool darkTheme: false
    readonly property var pages: [
        { key: "models", title: qsTr("Models"), icon: "M" },
        { key: "calibration", title: qsTr("Calibration"), icon: "C" },
        { key: "probe", title: qsTr("Probe"), icon: "P" },
        { key: "projection", title: qsTr("Projection"), icon: "2D" },
        { key: "quantize", title: qsTr("Quantize"), icon: "Q" },
        { key: "results", title: qsTr("Results"), icon: "R" },
        { key: "export", title: qsTr("Export"), icon: "E" }
    ]
    property int currentIndex: Math.max(0, pages.findIndex(p => p.key === initialPage))
    function show(key) { currentIndex = Math.max(0, pages.findIndex(p => p.key === key)) }
    readonly property string currentPage: pages[currentIndex].key

    width: 1280
    height: 800
    minimumWidth: 960
    minimumHeight: 600
    visible: true
    title: qsTr("SafeQuant Workbench — %1").arg(pages[currentIndex].title)

    Material.theme: darkTheme ? Material.Dark : Material.Light
    Material.accent: Material.Teal
    Material.primary: Material.BlueGrey

    // Ctrl+1 … Ctrl+7 switch pages; Ctrl+Shift+D toggles the palette.
    Repeater {
        model: window.pages.length
        delegate: Item {
            required property int index
            Shortcut {
                sequence: "Ctrl+" + (index + 1)
                onActivated: window.currentIndex = index
            }
        }
    }
    Shortcut {
        sequence: "Ctrl+Shift+D"
        onActivated: window.darkTheme = !window.darkTheme
    }

    header: ToolBar {
        // A plain background: the Material shadow layer does not render with the software backend.
        background: Rectangle {
            implicitHeight: 48
            color: Material.color(Material.BlueGrey, window.darkTheme ? Material.Shade900 : Material.Shade700)
        }
        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: 16
            anchors.rightMargin: 16
            Label {
                text: qsTr("SafeQuant Workbench")
                font.pixelSize: 18
                font.bold: true
                color: "white"
            }
            Label {
                text: "·  " + window.pages[window.currentIndex].title
                font.pixelSize: 16
                color: "white"
                opacity: 0.85
                Layout.fillWidth: true
            }
            ToolButton {
                text: window.darkTheme ? qsTr("Light") : qsTr("Dark")
                onClicked: window.darkTheme = !window.darkTheme
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Switch palette (Ctrl+Shift+D)")
            }
        }
    }

    footer: StatusLine {}

    RowLayout {
        anchors.fill: parent
        spacing: 0

        NavRail {
            Layout.fillHeight: true
            Layout.preferredWidth: 200
            pages: window.pages
            currentIndex: window.currentIndex
            onSelected: index => window.currentIndex = index
        }

        StackLayout {
            objectName: "pageStack"
            Layout.fillWidth: true
            Layout.fillHeight: true
            currentIndex: window.currentIndex
            ModelsPage {}
            CalibrationPage {}
            ProbePage { onNavigate: key => window.show(key) }
            ProjectionPage {}
            QuantizePage { onNavigate: key => window.show(key) }
            ResultsPage { onNavigate: key => window.show(key) }
            ExportPage {}
        }
    }
}
