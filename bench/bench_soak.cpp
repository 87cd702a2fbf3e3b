// A soak of the studio's job path: 30 probe / quantize / evaluate jobs in one session, through
// the same controllers and worker-thread job runner the GUI drives, on the tiny demo zoo. Prints
// each job's time and the process's resident memory after it, then RSS at the start and the end
// and its peak: memory that grows with every job is a leak the GUI's users would meet in a long
// session. Usage: bench_soak [ZOO_DIR [JOBS]] (default: the build tree's zoo-tiny, 30 jobs).
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <cstdio>
#include <string>

#include "app/studio/workbench.h"
#include "bench/proc_status.h"

int main(int argc, char** argv) {
  auto mb = [](const char* key) { return double(status_kb(key)) / 1024; };
  QCoreApplication app(argc, argv);
  const QString zoo = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QStringLiteral(SQ_BINARY_DIR "/zoo-tiny");
  const int jobs = argc > 2 ? std::atoi(argv[2]) : 30;
  QTemporaryDir ws;
  qputenv("SAFEQUANT_WORKSPACE", ws.path().toUtf8());
  qputenv("SAFEQUANT_ZOO", zoo.toUtf8());
  Workbench wb;
  if (wb.models()->target().isEmpty() || wb.calibration()->malicious() == 0) {
    std::fprintf(stderr, "bench_soak: no demo zoo at %s (safequant zoo --preset tiny --out DIR)\n", qPrintable(zoo));
    return 1;
  }
  wb.calibration()->setSamples(32);
  const double start = mb("VmRSS:");
  std::printf("bench_soak: %d jobs on %s; RSS at start %.1f MB\n", jobs, qPrintable(zoo), start);
  std::printf("%4s  %-10s %8s %9s\n", "job", "kind", "seconds", "RSS MB");
  QElapsedTimer clock;
  for (int i = 0; i < jobs; ++i) {
    const int kind = i % 3;
    clock.start();
    bool started = false;
    if (kind == 0) {  // quantize (and evaluate the run), a different calibration seed each time
      started = wb.quantize()->start({{QStringLiteral("method"), i % 2 ? QStringLiteral("gptq") : QStringLiteral("rtn")},
                                      {QStringLiteral("scheme"), i % 2 ? QStringLiteral("w4a4") : QStringLiteral("w8a8")},
                                      {QStringLiteral("seed"), i},
                                      {QStringLiteral("maxNew"), 8}});
    } else if (kind == 1) {  // probe the target against the newest run, with the aligned model's probes every other time
      started = wb.probe()->run(wb.quantize()->lastRun(), false, i % 2 == 1);
    } else {
      started = wb.results()->evaluateBaseline(8);
    }
    if (!started || !wb.jobs()->waitForIdle(30 * 60 * 1000) || !wb.jobs()->error().isEmpty()) {
      std::fprintf(stderr, "bench_soak: job %d failed: %s\n", i + 1, qPrintable(wb.jobs()->error()));
      return 1;
    }
    QCoreApplication::processEvents();
    std::printf("%4d  %-10s %8.1f %9.1f\n", i + 1, kind == 0 ? "quantize" : kind == 1 ? "probe" : "evaluate",
                double(clock.elapsed()) / 1000, mb("VmRSS:"));
    std::fflush(stdout);
  }
  const double end = mb("VmRSS:");
  std::printf("bench_soak: RSS at start %.1f MB, at the end %.1f MB (%+.1f MB over %d jobs), peak %.1f MB\n", start, end, end - start,
              jobs, mb("VmHWM:"));
  return 0;
}
