// The `safequant` command-line contract: help, version, exit codes, not-yet-built commands.
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "tests/cli_runner.h"

class TstCli : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void version() {
    const CliResult r = runCli({QStringLiteral("--version")});
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.out.startsWith(QStringLiteral("safequant 0.")));
  }

  void overviewListsEveryCommand() {
    const CliResult r = runCli({QStringLiteral("--help")});
    QCOMPARE(r.exitCode, 0);
    for (const char* c : {"zoo", "tokenize", "logits", "generate", "probe", "quantize", "eval", "export", "run", "sweep"})
      QVERIFY2(r.out.contains(QStringLiteral("\n  %1 ").arg(QLatin1String(c))), c);
  }

  void noArgumentsIsUsageError() {
    const CliResult r = runCli({});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains(QStringLiteral("Usage:")));
  }

  void commandHelp_data() {
    QTest::addColumn<QString>("command");
    for (const char* c : {"info", "zoo", "tokenize", "logits", "generate", "probe", "quantize", "eval", "export", "run", "sweep"})
      QTest::newRow(c) << QString::fromLatin1(c);
  }
  void commandHelp() {
    QFETCH(QString, command);
    const CliResult r = runCli({command, QStringLiteral("--help")});
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.out.startsWith(QStringLiteral("Usage: safequant ") + command));
    QVERIFY(r.out.contains(QStringLiteral("--help")));
  }

  void missingConfigIsNamed() {
    for (const char* command : {"run", "sweep"}) {
      const CliResult r = runCli({QString::fromLatin1(command), QStringLiteral("no-such-config.json")});
      QCOMPARE(r.exitCode, 2);
      QVERIFY2(r.err.contains(QStringLiteral("no-such-config.json: ")), qPrintable(r.err));
      QVERIFY(r.out.isEmpty());
    }
  }

  void unknownCommandAndOption() {
    CliResult r = runCli({QStringLiteral("frobnicate")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains(QStringLiteral("unknown command 'frobnicate'")));
    r = runCli({QStringLiteral("info"), QStringLiteral("--bogus")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains(QStringLiteral("unknown option --bogus")));
  }

  void infoIsJson() {
    const CliResult r = runCli({QStringLiteral("info")});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QVERIFY(o.value(QStringLiteral("torch")).toString().startsWith(QStringLiteral("1.")));
    QVERIFY(o.value(QStringLiteral("threads")).toInt() >= 1);
    QVERIFY(o.contains(QStringLiteral("cuda_devices")));
  }
};

QTEST_GUILESS_MAIN(TstCli)
#include "tst_cli.moc"
