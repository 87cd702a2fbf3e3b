// safequant-studio end to end: every page renders to a PNG that is neither empty nor blank.
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
    const QImage a(dir_.filePath(QStringLiteral("models.png"))), b(dir_.filePath(QStringLiteral("export.png")));
    QVERIFY(!a.isNull() && !b.isNull());
    QVERIFY(a != b);
  }

  void unknownPageIsUsageError() {
    const CliResult r = runProgram(QStringLiteral("app/studio/safequant-studio"), {QStringLiteral("--page"), QStringLiteral("nowhere")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains(QStringLiteral("unknown page 'nowhere'")));
  }
};

QTEST_GUILESS_MAIN(TstStudio)
#include "tst_studio.moc"
