// The GUI's controllers on the tiny zoo, without a window: the job runner (progress, errors,
// cancel, one job at a time), models and their errors, calibration counts and draws, a probe
// with a quantized comparison, a quantization run evaluated into Results, the baseline, and an
// export with its manifest.
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cmath>

#include "app/studio/workbench.h"
#include "core/error.h"
#include "core/export/export.h"
#include "core/quantized/run_record.h"
#include "tests/time_scale.h"

namespace {

const QString kZoo = QStringLiteral(SQ_BINARY_DIR "/zoo-tiny");

}  // namespace

class TstControllers : public QObject {
  Q_OBJECT
  QTemporaryDir ws_;
  std::unique_ptr<Workbench> wb_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    qputenv("SAFEQUANT_WORKSPACE", ws_.path().toUtf8());
    qputenv("SAFEQUANT_ZOO", kZoo.toUtf8());
    wb_ = std::make_unique<Workbench>();
  }

  void jobRunner() {
    JobRunner jobs;
    QSignalSpy finished(&jobs, &JobRunner::finished);
    int delivered = 0;
    QVERIFY(jobs.start(QStringLiteral("count"), [&](const sq::Progress& p) -> std::function<void()> {
      for (int i = 0; i < 5; ++i) p.step(i, 5, "counting");
      return [&] { delivered = 42; };
    }));
    QVERIFY(!jobs.start(QStringLiteral("second"), [](const sq::Progress&) { return std::function<void()>(); }));
    QVERIFY(jobs.waitForIdle(scaledMs(10000)));
    QCOMPARE(delivered, 42);
    QCOMPARE(finished.count(), 1);
    QVERIFY(finished[0][1].toBool());
    QCOMPARE(jobs.progress(), 1.0);

    QVERIFY(jobs.start(QStringLiteral("fail"), [](const sq::Progress&) -> std::function<void()> { throw sq::Error("f.jsonl", "bad line 3"); }));
    QVERIFY(jobs.waitForIdle(scaledMs(10000)));
    QCOMPARE(jobs.error(), QStringLiteral("f.jsonl: bad line 3"));

    std::atomic<bool> started{false};
    QVERIFY(jobs.start(QStringLiteral("forever"), [&](const sq::Progress& p) -> std::function<void()> {
      started = true;
      for (int64_t i = 0;; ++i) p.step(i, -1, "spinning");
    }));
    while (!started) QThread::msleep(1);
    jobs.cancel();
    QVERIFY(jobs.waitForIdle(scaledMs(10000)));
    QCOMPARE(jobs.error(), QStringLiteral("cancelled"));
  }

  void models() {
    ModelsController* m = wb_->models();
    QCOMPARE(m->target(), kZoo + QStringLiteral("/finetuned"));  // SAFEQUANT_ZOO loads the demo models
    QCOMPARE(m->base(), kZoo + QStringLiteral("/base"));
    QCOMPARE(m->judge(), kZoo + QStringLiteral("/judge"));  // the zoo's demo judge
    QCOMPARE(m->models().size(), 4);
    const QVariantMap target = m->models()[0].toMap();
    QVERIFY(target[QStringLiteral("ok")].toBool());
    QCOMPARE(target[QStringLiteral("layers")].toInt(), 2);
    QCOMPARE(target[QStringLiteral("hidden")].toInt(), 64);
    QVERIFY(target[QStringLiteral("tokenizer")].toString().contains(QStringLiteral("byte-level")));
    QVERIFY(m->recent().contains(kZoo + QStringLiteral("/finetuned")));
    ModelsController other;
    QVERIFY(!other.setModel(QStringLiteral("aligned"), ws_.filePath(QStringLiteral("nowhere"))));
    const QVariantMap bad = other.models()[1].toMap();
    QVERIFY(bad[QStringLiteral("error")].toString().contains(QStringLiteral("nowhere")));
  }

  void calibration() {
    CalibrationController* c = wb_->calibration();
    QVERIFY(c->malicious() > 0 && c->benign() > 0);
    QCOMPARE(c->evalFiles().size(), 3);
    QVERIFY(!c->sources().isEmpty());
    QVERIFY(c->heldOutMalicious() > 0 && c->heldOutMalicious() < c->malicious());
    c->setSamples(20);
    c->setRatio(0.5);
    QCOMPARE(c->drawMalicious(), 10);
    QCOMPARE(c->drawBenign(), 10);
    // The draw's make-up per source, for the page beside the ratio: counts add up to the draw and
    // each source's share of its label's draw is its share of the pool within one prompt.
    int composed = 0;
    for (const QVariant& v : c->drawComposition()) {
      const QVariantMap m = v.toMap();
      composed += m[QStringLiteral("drawn")].toInt();
      QVERIFY(std::fabs(m[QStringLiteral("drawShare")].toDouble() - m[QStringLiteral("poolShare")].toDouble()) <= 100.0 / 10);  // 10 per label
    }
    QCOMPARE(composed, 20);
    c->setSamples(100000);
    QVERIFY(!c->drawError().isEmpty());
    c->setSamples(40);
    c->setRatio(0.75);
    // Texts stay hidden until asked for.
    PromptListModel* p = c->promptModel();
    QVERIFY(p->rowCount() > 0);
    QVERIFY(p->data(p->index(0), PromptListModel::TextRole).toString().isEmpty());
    p->setShowText(true);
    QVERIFY(!p->data(p->index(0), PromptListModel::TextRole).toString().isEmpty());
    p->setShowText(false);
    QVERIFY(!c->addFile(ws_.filePath(QStringLiteral("missing.jsonl"))));
    QVERIFY(c->error().contains(QStringLiteral("missing.jsonl")));
  }

  void quantizeEvaluateAndResults() {
    QuantizeController* q = wb_->quantize();
    QVariantMap s{{QStringLiteral("method"), QStringLiteral("lwc")}, {QStringLiteral("scheme"), QStringLiteral("w8a8")},
                  {QStringLiteral("samples"), 16}, {QStringLiteral("epochs"), 2}, {QStringLiteral("maxNew"), 8}};
    QVERIFY(q->check(s).isEmpty());
    QVERIFY(q->check({{QStringLiteral("scheme"), QStringLiteral("w9a9")}}).contains(QStringLiteral("unknown scheme")));
    QVERIFY(q->start(s));
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(300000)));
    QVERIFY2(wb_->jobs()->error().isEmpty(), qPrintable(wb_->jobs()->error()));
    QCOMPARE(q->loss().size(), 1 + 7);  // two layers on the paper's schedule: 2 - 5 (at least 1) and 2 + 5 epochs
    const QVariantList live = q->loss();
    q->showRun(q->lastRun());  // the same curve, read back from run.json
    QCOMPARE(q->loss(), live);
    QVERIFY(!q->lastRun().isEmpty());
    const QVariantList runs = wb_->results()->runs();
    QCOMPARE(runs.size(), 1);
    const QVariantMap run = runs[0].toMap();
    QCOMPARE(run[QStringLiteral("method")].toString(), QStringLiteral("lwc"));
    QVERIFY(run[QStringLiteral("harmful")].isValid());
    QVERIFY(run[QStringLiteral("judged")].isValid());  // judged by the Models page's judge
    QVERIFY(run[QStringLiteral("task")].isValid());
    QVERIFY(run[QStringLiteral("sizeMB")].toDouble() > 0);

    QVERIFY(wb_->results()->evaluateBaseline(8));
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(300000)));
    QCOMPARE(wb_->results()->runs().size(), 3);  // target and aligned in full precision, and the run
  }

  // A small sweep from the Quantize page: every ratio with every scheme, run by run as one job,
  // then open on Results with its table, its Pareto chart files, and its finished runs beside
  // the workspace's for the Probe and Export pages. A cancelled sweep leaves no run it would trust.
  void sweepFromTheQuantizePage() {
    QuantizeController* q = wb_->quantize();
    ResultsController* r = wb_->results();
    const QVariantMap s{{QStringLiteral("method"), QStringLiteral("gptq")}, {QStringLiteral("samples"), 8},
                        {QStringLiteral("maxNew"), 4}};
    QVERIFY(!q->startSweep(s, {}, {QStringLiteral("w8a8")}));
    QVERIFY(q->sweepError().contains(QStringLiteral("at least one ratio")));
    QVERIFY(!q->startSweep(s, {0.5, 1.5}, {QStringLiteral("w8a8")}));
    QVERIFY2(q->sweepError().contains(QStringLiteral("\"ratio\" must be between 0 and 1")), qPrintable(q->sweepError()));
    const int before = int(r->runs().size());
    QVERIFY(q->startSweep(s, {0.25, 0.75}, {QStringLiteral("w8a8")}));
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(600000)));
    QVERIFY2(wb_->jobs()->error().isEmpty(), qPrintable(wb_->jobs()->error()));
    const QVariantMap sweep = r->sweep();
    QVERIFY2(!sweep.contains(QStringLiteral("error")), qPrintable(sweep.value(QStringLiteral("error")).toString()));
    const QVariantList runs = sweep[QStringLiteral("runs")].toList();
    QCOMPARE(runs.size(), 2);
    for (const QVariant& v : runs) {
      const QVariantMap run = v.toMap();
      QCOMPARE(run[QStringLiteral("status")].toString(), QStringLiteral("done"));
      QVERIFY(run[QStringLiteral("harmful")].isValid() && run[QStringLiteral("utility")].isValid());
      QCOMPARE(run[QStringLiteral("method")].toString(), QStringLiteral("gptq"));
      QVERIFY(QFileInfo(run[QStringLiteral("dir")].toString() + QStringLiteral("/run.json")).isFile());
    }
    const QDir dir(sweep[QStringLiteral("dir")].toString());
    QVERIFY(dir.exists(QStringLiteral("pareto.png")) && dir.exists(QStringLiteral("pareto.svg")));
    QVERIFY(QFileInfo(dir.path() + QStringLiteral(".sweep.json")).isFile());  // runnable again with safequant sweep
    QCOMPARE(r->sweeps(), QStringList{dir.path()});
    QCOMPARE(int(r->runs().size()), before + 2);
    QSignalSpy chosen(r, &ResultsController::selectedRunChanged);
    r->setSelectedRun(runs[0].toMap()[QStringLiteral("dir")].toString());
    QCOMPARE(chosen.count(), 1);

    QVERIFY(!r->openSweep(ws_.path()));
    QVERIFY2(r->sweep()[QStringLiteral("error")].toString().contains(QStringLiteral("sweep.json")), qPrintable(r->sweep()[QStringLiteral("error")].toString()));

    // Cancelled inside its first run (trained long enough to be caught there): the job says so,
    // and the sweep's runs/ holds no run folder and no staging folder.
    QTest::qWait(1100);  // a new stamp, so a new sweep folder
    QVariantMap slow = s;
    slow[QStringLiteral("method")] = QStringLiteral("lwc");
    slow[QStringLiteral("epochs")] = 400;
    QVERIFY(q->startSweep(slow, {0.5}, {QStringLiteral("w8a8"), QStringLiteral("w4a16-g32")}));
    QTest::qWait(500);
    wb_->jobs()->cancel();
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(300000)));
    QCOMPARE(wb_->jobs()->error(), QStringLiteral("cancelled"));
    const QDir sweeps(wb_->workspace() + QStringLiteral("/sweeps"));
    const QStringList made = sweeps.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    QCOMPARE(made.size(), 2);
    const QStringList left = QDir(sweeps.filePath(made.last()) + QStringLiteral("/runs")).entryList(QDir::Dirs | QDir::Hidden | QDir::NoDotAndDotDot);
    QVERIFY2(left.isEmpty(), qPrintable(left.join(QStringLiteral(", "))));
  }

  // The Results page opens the efficacy table shipped in the source tree, or one the user chose.
  void efficacyTable() {
    ResultsController* r = wb_->results();
    QVERIFY(r->shippedEfficacyTable().endsWith(QStringLiteral("docs/efficacy.md")));
    const QString text = r->readEfficacyTable(r->shippedEfficacyTable());
    QVERIFY(text.startsWith(QStringLiteral("# Efficacy on the demo zoo")) && text.contains(QStringLiteral("| Q-realign |")));
    QVERIFY(r->efficacyError().isEmpty());
    QVERIFY(r->readEfficacyTable(ws_.filePath(QStringLiteral("nowhere.md"))).isEmpty());
    QVERIFY(r->efficacyError().startsWith(ws_.filePath(QStringLiteral("nowhere.md")) + QStringLiteral(": ")));
    QFile other(ws_.filePath(QStringLiteral("notes.md")));
    QVERIFY(other.open(QIODevice::WriteOnly));
    other.write("# My notes\n");
    other.close();
    QVERIFY(r->readEfficacyTable(other.fileName()).isEmpty());
    QVERIFY(r->efficacyError().contains(QStringLiteral("not an efficacy table")));
  }

  void probeWithComparison() {
    ProbeController* p = wb_->probe();
    const QString run = wb_->quantize()->lastRun();
    QVERIFY(p->run(run));
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(300000)));
    QVERIFY2(wb_->jobs()->error().isEmpty(), qPrintable(wb_->jobs()->error()));
    QCOMPARE(p->layers().size(), 2);
    // One calibration prompt of the tiny zoo is longer than its context: kept to its last tokens, and said.
    QVERIFY2(p->note().contains(QStringLiteral("kept their last 256 tokens")), qPrintable(p->note()));
    QCOMPARE(p->compared().size(), 1);
    QCOMPARE(p->compared()[0].toMap()[QStringLiteral("label")].toString(), QStringLiteral("quantized"));
    const QVariantMap l0 = p->layers()[0].toMap();
    QVERIFY(l0[QStringLiteral("accuracy")].toDouble() > 50);
    QCOMPARE(l0[QStringLiteral("compared")].toList().size(), 1);
    QVERIFY(l0[QStringLiteral("compared")].toList()[0].toMap()[QStringLiteral("accuracy")].toDouble() > 0);
    // Cross-validated accuracy with its spread, for the band on the Probe page.
    QVERIFY(l0[QStringLiteral("cvAccuracy")].toDouble() > 50);
    QVERIFY(l0[QStringLiteral("cvAccuracyStd")].toDouble() >= 0);
    QVERIFY(p->methods().contains(QStringLiteral("probe_plane")));
    const QVariantList fp = p->points(1, QStringLiteral("pca"), -1), q = p->points(1, QStringLiteral("pca"), 0);
    QCOMPARE(fp.size(), wb_->calibration()->malicious() + wb_->calibration()->benign());
    QCOMPARE(q.size(), fp.size());
    QVERIFY(p->points(1, QStringLiteral("pca"), 1).isEmpty());  // no second compared model
    // The aligned model's probes read the target (its drift) and the target under the run.
    QVERIFY(p->run(run, false, true));
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(300000)));
    QVERIFY2(wb_->jobs()->error().isEmpty(), qPrintable(wb_->jobs()->error()));
    QVERIFY(p->reference().endsWith(QStringLiteral("aligned")));
    QCOMPARE(p->compared().size(), 2);
    QCOMPARE(p->compared()[0].toMap()[QStringLiteral("label")].toString(), QFileInfo(wb_->models()->target()).fileName());
    QCOMPARE(p->compared()[1].toMap()[QStringLiteral("quantRun")].toString(), run);
    QCOMPARE(p->points(1, QStringLiteral("probe_plane"), 1).size(), fp.size());
    QVERIFY(p->exportCoordinates(ws_.filePath(QStringLiteral("coords.csv"))));
    QVERIFY(QFileInfo(ws_.filePath(QStringLiteral("coords.csv"))).size() > 100);
  }

  // Mixed precision from the Quantize page: refused until the target's sensitivity is measured,
  // then a run whose plan stays within the budget.
  void mixedRunFromTheQuantizePage() {
    const QVariantMap s{{QStringLiteral("method"), QStringLiteral("rtn")}, {QStringLiteral("mixedBits"), 4.5}, {QStringLiteral("evaluate"), false}};
    QVERIFY(wb_->sensitivity()->units().isEmpty());  // a fresh workspace
    QVERIFY(wb_->quantize()->check(s).contains(QStringLiteral("sensitivity")));
    QVERIFY(wb_->sensitivity()->run());
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(300000)));
    QVERIFY2(wb_->jobs()->error().isEmpty(), qPrintable(wb_->jobs()->error()));
    QCOMPARE(wb_->sensitivity()->units().size(), 9);
    QVERIFY2(wb_->quantize()->check(s).isEmpty(), qPrintable(wb_->quantize()->check(s)));
    QVERIFY(wb_->quantize()->start(s));
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(300000)));
    QVERIFY2(wb_->jobs()->error().isEmpty(), qPrintable(wb_->jobs()->error()));
    const sq::RunRecord r = sq::read_run_record(wb_->quantize()->lastRun().toStdString());
    QVERIFY(r.mix.has_value());
    QVERIFY(r.mix->bits_per_weight <= 4.5 + 1e-9);
    QVERIFY(wb_->quantize()->lastRun().contains(QStringLiteral("mixed-4.5")));
  }

  // Quitting during a job cancels it: the workbench goes away promptly and leaves no partial run.
  void quittingDuringAJob() {
    auto wb = std::make_unique<Workbench>();
    QVERIFY(wb->quantize()->start({{QStringLiteral("method"), QStringLiteral("lwc")}, {QStringLiteral("scheme"), QStringLiteral("w4a4")},
                                   {QStringLiteral("samples"), 64}, {QStringLiteral("epochs"), 400}}));
    QTest::qWait(500);
    QVERIFY(wb->jobs()->busy());
    QElapsedTimer clock;
    clock.start();
    wb.reset();
    QVERIFY2(clock.elapsed() < 20000, qPrintable(QString::number(clock.elapsed())));
    for (const QFileInfo& f : QDir(ws_.filePath(QStringLiteral("runs"))).entryInfoList(QDir::AllEntries | QDir::NoDotAndDotDot))
      QVERIFY2(!f.fileName().contains(QStringLiteral(".part-")) && !f.fileName().startsWith(QStringLiteral("lwc-w4a4")),
               qPrintable(f.fileName()));
  }

  void exportRun() {
    ExportController* e = wb_->exporter();
    const QString run = wb_->quantize()->lastRun();
    const QVariantList checks = e->checks(run);
    QCOMPARE(size_t(checks.size()), sq::export_formats().size());
    QCOMPARE(e->modelOf(run), kZoo + QStringLiteral("/finetuned"));
    QVERIFY(e->exportRun(run, QStringLiteral("gguf-q8_0"), ws_.filePath(QStringLiteral("export"))));
    QVERIFY(wb_->jobs()->waitForIdle(scaledMs(120000)));
    QVERIFY2(wb_->jobs()->error().isEmpty(), qPrintable(wb_->jobs()->error()));
    QVERIFY(QFileInfo::exists(e->resultPath()));
    QVERIFY(e->manifest().contains(QStringLiteral("sha256")));
  }
};

// A QApplication, as the studio has: Qt Charts (the sweep's Pareto chart) draws with widgets.
QTEST_MAIN(TstControllers)
#include "tst_controllers.moc"
