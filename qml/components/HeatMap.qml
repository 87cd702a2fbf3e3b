import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// A grid of rows x columns coloured by value: white at the smallest, the accent at the largest,
// on a logarithmic scale when every value is positive (KL spans decades), else linear around 0.
// Each cell shows its value; hovering names the row and column.
Item {
    id: map
    property var rows: []       // row labels
    property var columns: []    // column labels
    property var values: []     // [row][column]
    property color high: "#c62828"
    property color low: "#1565c0"   // for negative values on a signed scale
    property string format: "%1"    // how a value reads in its cell, given as a number
    property int cellHeight: 22
    readonly property int rowLabelWidth: 110
    implicitHeight: (rows.length + 1) * cellHeight
    implicitWidth: rowLabelWidth + columns.length * 90

    readonly property var range: {
        let lo = Infinity, hi = -Infinity
        for (const r of values) for (const v of r) { lo = Math.min(lo, v); hi = Math.max(hi, v) }
        return { lo: lo, hi: hi, log: lo > 0 }
    }
    function shade(v) {
        const r = range
        if (!isFinite(v) || !isFinite(r.lo)) return "transparent"
        if (r.log) {
            const t = r.hi > r.lo ? (Math.log(v) - Math.log(r.lo)) / (Math.log(r.hi) - Math.log(r.lo)) : 0
            return Qt.rgba(1 + t * (high.r - 1), 1 + t * (high.g - 1), 1 + t * (high.b - 1), 1)
        }
        const m = Math.max(Math.abs(r.lo), Math.abs(r.hi)) || 1
        const t = Math.abs(v) / m, c = v < 0 ? low : high
        return Qt.rgba(1 + t * (c.r - 1), 1 + t * (c.g - 1), 1 + t * (c.b - 1), 1)
    }

    Column {
        Row {
            Item { width: map.rowLabelWidth; height: map.cellHeight }
            Repeater {
                model: map.columns
                Label {
                    required property string modelData
                    width: (map.width - map.rowLabelWidth) / Math.max(1, map.columns.length)
                    height: map.cellHeight
                    text: modelData
                    horizontalAlignment: Text.AlignHCenter
                    elide: Text.ElideRight
                    font.pixelSize: 11
                    opacity: 0.8
                }
            }
        }
        Repeater {
            model: map.rows
            Row {
                id: row
                required property string modelData
                required property int index
                Label {
                    width: map.rowLabelWidth
                    height: map.cellHeight
                    text: row.modelData
                    verticalAlignment: Text.AlignVCenter
                    font.pixelSize: 11
                }
                Repeater {
                    model: map.columns.length
                    Rectangle {
                        id: cell
                        required property int index
                        readonly property real value: map.values.length > row.index ? map.values[row.index][index] : NaN
                        width: (map.width - map.rowLabelWidth) / Math.max(1, map.columns.length)
                        height: map.cellHeight
                        color: map.shade(value)
                        border.color: "#20000000"
                        Label {
                            anchors.centerIn: parent
                            text: isFinite(cell.value) ? map.format.arg(cell.value.toPrecision(2)) : ""
                            font.pixelSize: 10
                            color: "#202020"
                        }
                        MouseArea { id: hover; anchors.fill: parent; hoverEnabled: true }
                        ToolTip.visible: hover.containsMouse
                        ToolTip.text: row.modelData + " · " + map.columns[index] + ": " + cell.value
                    }
                }
            }
        }
    }
}
