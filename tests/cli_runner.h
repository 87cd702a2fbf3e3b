#pragma once
// Runs a SafeQuant executable from the build tree (or a program by its absolute path) and returns
// what it did, for tests that check the command-line contract end to end.
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include "tests/time_scale.h"

struct CliResult {
  int exitCode = -1;
  QString out, err;
};

inline CliResult runProgram(const QString& program, const QStringList& args, int timeoutMs = 300000,
                            const QStringList& env = {}) {
  QProcess p;
  p.setProgram(program.startsWith(QLatin1Char('/')) ? program : QStringLiteral(SQ_BINARY_DIR) + QLatin1Char('/') + program);
  p.setArguments(args);
  if (!env.isEmpty()) {
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const QString& kv : env)  // "NAME=value" sets, "-NAME" removes
      kv.startsWith(QLatin1Char('-')) ? e.remove(kv.mid(1)) : e.insert(kv.section(QLatin1Char('='), 0, 0), kv.section(QLatin1Char('='), 1));
    p.setProcessEnvironment(e);
  }
  p.start();
  CliResult r;
  if (!p.waitForFinished(scaledMs(timeoutMs))) {
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

inline CliResult runCli(const QStringList& args, int timeoutMs = 300000, const QStringList& env = {}) {
  return runProgram(QStringLiteral("app/safequant"), args, timeoutMs, env);
}

// Runs a writing command killed (SIGKILL, for real) at its 1st, 2nd, ... crash point until it
// completes, calling `afterKill(step)` after each kill to check what a user would find; the
// number of kills. The command must be the same each time (it replaces its own output).
template <typename Check>
int killAtEveryStep(const QStringList& args, Check afterKill, int maxSteps = 200) {
  for (int n = 1; n <= maxSteps; ++n) {
    const CliResult r = runCli(args, 300000, {QStringLiteral("SAFEQUANT_CRASH_AT=") + QString::number(n)});
    if (r.exitCode == 0) return n - 1;
    if (r.exitCode != -1 || !r.err.contains(QStringLiteral("crash point"))) return -n;  // failed otherwise: a bug
    afterKill(r.err.section(QStringLiteral("crash point"), 1).trimmed());
  }
  return -maxSteps;
}
