// safequant-studio end to end on the tiny demo zoo with a workspace made by the CLI (a run
// evaluated, the full-precision baseline, a probe comparison): every page renders to a PNG that
// is neither empty nor blank, and no two pages look the same.
#include <QDir>
#include <QImage>
#include <QSet>
#include <QTemporaryDir>
#include <QtTest>

#include "tests/cli_runner.h"

namespace {

// Distinct colours in a coarse sample of the image: a blank window has one or two.
int distinctColours(const QImage& image) {
  QSet<QRgb> seen;
  for (int y = 0; y < image.height(); y += 4)
    for (int x = 0; x < image.width(); x += 4) seen.insert(image.pixel(x, y));
  return int(seen.size());
}

}  // namespace

class TstStudio : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    const QString zoo = QStringLiteral(SQ_BINARY_DIR "/zoo-tiny"), ws = dir_.filePath(QStringLiteral("workspace"));
    const QString data = zoo + QStringLiteral("/data/");
    const QStringList eval = {data + QStringLiteral("heldout_malicious.jsonl"), data + QStringLiteral("heldout_benign.jsonl"),
                              data + QStringLiteral("heldout_task.jsonl")};
    const QString run = ws + QStringLiteral("/runs/rtn-w4a4");
    const QList<QStringList> steps = {
        {QStringLiteral("quantize"), QStringLiteral("--model"), zoo + QStringLiteral("/finetuned"), QStringLiteral("--method"),
         QStringLiteral("rtn"), QStringLiteral("--scheme"), QStringLiteral("w4a4"), QStringLiteral("--out"), run},
        QStringList{QStringLiteral("eval"), QStringLiteral("--model"), zoo + QStringLiteral("/finetuned"), QStringLiteral("--quant"), run,
                    QStringLiteral("--max-new"), QStringLiteral("8"), QStringLiteral("--out"), run + QStringLiteral("/eval.json"),
                    QStringLiteral("--data")} + eval,
        QStringList{QStringLiteral("eval"), QStringLiteral("--model"), zoo + QStringLiteral("/finetuned"), zoo + QStringLiteral("/aligned"),
                    QStringLiteral("--max-new"), QStringLiteral("8"), QStringLiteral("--out"), ws + QStringLiteral("/baseline/eval.json"),
                    QStringLiteral("--data")} + eval,
        {QStringLiteral("probe"), QStringLiteral("--model"), zoo + QStringLiteral("/finetuned"), QStringLiteral("--quant"), run,
         QStringLiteral("--data"), data + QStringLiteral("calibration.jsonl"), QStringLiteral("--truncate"), QStringLiteral("--out"), ws + QStringLiteral("/probe")}};
    QDir().mkpath(ws + QStringLiteral("/baseline"));
    for (QStringList step : steps) {
      step << QStringLiteral("--quiet");
      const CliResult r = runCli(step);
      QVERIFY2(r.exitCode == 0, qPrintable(step.first() + QStringLiteral(": ") + r.err));
    }
    qputenv("SAFEQUANT_ZOO", zoo.toUtf8());
    qputenv("SAFEQUANT_WORKSPACE", ws.toUtf8());
  }

  void screenshotOfEveryPage_data() {
    QTest::addColumn<QString>("page");
    for (const char* p : {"models", "calibration", "probe", "projection", "quantize", "results", "export"})
      QTest::newRow(p) << QString::fromLatin1(p);
  }
  void screenshotOfEveryPage() {
    QFETCH(QString, page);
    const QString png = dir_.filePath(page + QStringLiteral(".png"));
    const CliResult r = runProgram(QStringLiteral("app/studio/safequant-studio"),
                                   {QStringLiteral("--page"), page, QStringLiteral("--screenshot"), png}, 120000);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QImage image(png);
    QVERIFY2(!image.isNull(), "screenshot missing or unreadable");
    QVERIFY(image.width() >= 960 && image.height() >= 600);
    QVERIFY2(distinctColours(image) > 20, "screenshot looks blank");
  }

  void pagesDiffer() {
    const QStringList pages = {QStringLiteral("models"), QStringLiteral("calibration"), QStringLiteral("probe"), QStringLiteral("projection"),
                               QStringLiteral("quantize"), QStringLiteral("results"), QStringLiteral("export")};
    for (int i = 0; i < pages.size(); ++i)
      for (int j = i + 1; j < pages.size(); ++j) {
        const QImage a(dir_.filePath(pages[i] + QStringLiteral(".png"))), b(dir_.filePath(pages[j] + QStringLiteral(".png")));
        QVERIFY(!a.isNull() && !b.isNull());
        QVERIFY2(a != b, qPrintable(pages[i] + QStringLiteral(" and ") + pages[j] + QStringLiteral(" look the same")));
      }
  }

  void unknownPageIsUsageError() {
    const CliResult r = runProgram(QStringLiteral("app/studio/safequant-studio"), {QStringLiteral("--page"), QStringLiteral("nowhere")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains(QStringLiteral("unknown page 'nowhere'")));
  }
};

QTEST_GUILESS_MAIN(TstStudio)
#include "tst_studio.moc"
