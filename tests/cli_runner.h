#pragma once
// Runs a SafeQuant executable from the build tree and returns what it did, for tests that check
// the command-line contract end to end.
#include <QProcess>
#include <QString>
#include <QStringList>

struct CliResult {
  int exitCode = -1;
  QString out, err;
};

inline CliResult runProgram(const QString& program, const QStringList& args, int timeoutMs = 300000) {
  QProcess p;
  p.setProgram(QStringLiteral(SQ_BINARY_DIR) + QLatin1Char('/') + program);
  p.setArguments(args);
  p.start();
  CliResult r;
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished();
    r.err = QStringLiteral("timed out");
    return r;
  }
  r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

inline CliResult runCli(const QStringList& args, int timeoutMs = 300000) {
  return runProgram(QStringLiteral("app/safequant"), args, timeoutMs);
}
