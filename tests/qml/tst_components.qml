import QtQuick
import QtQuick.Controls
import QtTest
import SafeQuant
import SafeQuant.Controllers

// Key view components on the tiny demo zoo (SAFEQUANT_ZOO): the shared job bar, the primary
// button, the calibration page's live draw and the results and export pages over a real run.
Item {
    id: root
    width: 1280
    height: 800

    Component { id: jobBar; JobBar {} }
    Component { id: primary; PrimaryButton { text: "Go" } }
    Component { id: spyComponent; SignalSpy {} }
    Component { id: fact; Fact { name: "Layers"; value: "2" } }
    Component { id: calibrationPage; CalibrationPage { width: 1000; height: 700 } }
    Component { id: exportPage; ExportPage { width: 1000; height: 700 } }
    Component { id: probePage; ProbePage { width: 1000; height: 700 } }
    Component { id: paretoChart; ParetoChartItem { width: 900; height: 560 } }

    function findChild(item, name) {
        if (item.objectName === name) return item
        for (let i = 0; i < item.children.length; ++i) {
            const found = findChild(item.children[i], name)
            if (found) return found
        }
        if (item.contentItem && item.contentItem !== item) return findChild(item.contentItem, name)
        return null
    }

    TestCase {
        name: "Components"
        when: windowShown

        function test_jobBarHiddenWhenIdle() {
            const bar = createTemporaryObject(jobBar, root)
            verify(bar)
            compare(Workbench.jobs.busy, false)
            compare(bar.visible, Workbench.jobs.error !== "")
        }

        function test_primaryButtonClicks() {
            const b = createTemporaryObject(primary, root)
            const spy = createTemporaryObject(spyComponent, root, { target: b, signalName: "clicked" })
            mouseClick(b)
            compare(spy.count, 1)
            b.enabled = false
            mouseClick(b)
            compare(spy.count, 1)
        }

        function test_fact() {
            const f = createTemporaryObject(fact, root)
            compare(f.name, "Layers")
            compare(f.value, "2")
        }

        function test_demoModelsLoaded() {
            verify(Workbench.models.target.endsWith("/finetuned"))
            verify(Workbench.calibration.malicious > 0)
        }

        function test_calibrationDrawFollowsRatio() {
            const page = createTemporaryObject(calibrationPage, root)
            const label = findChild(page, "drawLabel")
            verify(label)
            Workbench.calibration.samples = 40
            Workbench.calibration.ratio = 0.5
            compare(label.text, "Draws 20 malicious and 20 benign prompts")
            Workbench.calibration.ratio = 0.75
            compare(label.text, "Draws 30 malicious and 10 benign prompts")
        }

        // The Results page's Pareto chart of a sweep table (tests/data/sweep): hovering a marker
        // describes its run, clicking it chooses the run's quantization folder.
        function test_paretoChartHoverAndClick() {
            const chart = createTemporaryObject(paretoChart, root, { sweepDir: testData + "/sweep" })
            verify(chart)
            compare(chart.error, "")
            const p = chart.markerPosition(1)
            verify(p.x > 0 && p.y > 0 && p.x < chart.width && p.y < chart.height)
            compare(chart.markerPosition(3).x, -1)  // a failed run has no marker
            mouseMove(chart, p.x, p.y)
            tryVerify(() => chart.hoverText.indexOf("ratio=0.25,scheme=w4a4") === 0)
            verify(chart.hoverText.indexOf("Pareto front") > 0)
            const spy = createTemporaryObject(spyComponent, root, { target: chart, signalName: "runClicked" })
            mouseClick(chart, p.x, p.y)
            compare(spy.count, 1)
            compare(spy.signalArguments[0][0], 1)
            compare(spy.signalArguments[0][1], "/fixture/runs/ratio=0.25,scheme=w4a4/quant")
            mouseMove(chart, 2, 2)
            tryVerify(() => chart.hoverText === "")
            chart.sweepDir = testData
            verify(chart.error.indexOf("sweep.json") >= 0)
        }

        // The Probe page's heat map: measuring the tiny target's sensitivity fills one row per unit
        // (two layers of four, and the embedding) and one column per option, for each metric.
        function test_sensitivityHeatMap() {
            const page = createTemporaryObject(probePage, root)
            mouseClick(findChild(page, "sensitivityTab"))
            const map = findChild(page, "sensitivityMap")
            verify(map)
            verify(Workbench.sensitivity.run())
            tryVerify(() => !Workbench.jobs.busy, 300000)
            compare(Workbench.jobs.error, "")
            compare(map.rows.length, 9)
            compare(map.columns.length, 5)
            compare(map.values.length, 9)
            verify(map.values[0][4] > map.values[0][0])  // W2 moves the replies more than W8
            const bytes = Workbench.sensitivity.cells("bytes")
            verify(bytes[0][0] > bytes[0][4])  // 8-bit weights take more bytes than 2-bit ones
            compare(Workbench.sensitivity.cells("refusal").length, 9)
        }

        function test_exportPageListsFormats() {
            const page = createTemporaryObject(exportPage, root)
            verify(page)
            compare(page.checks.length, 16)  // export_formats(): twelve GGUF types, three compressed-tensors, hf-bf16
            verify(page.checks.some(c => c.format === "gguf-mixed" && !c.allowed))  // the demo target is no mixed run
            verify(page.checks.some(c => c.format === "gguf-q8_0" && c.allowed))
            verify(page.checks.some(c => c.format === "gguf-q4_k_m" && c.allowed))
        }
    }
}
