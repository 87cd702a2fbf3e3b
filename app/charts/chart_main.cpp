// safequant-chart: the Pareto chart of a sweep folder as PNG and SVG, drawn without a display.
// `safequant sweep` runs it after gathering its table; it is a separate program so that the
// command line itself stays free of Qt.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <cstdio>

#include "app/charts/pareto_chart.h"
#include "core/error.h"

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
      qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QCommandLineParser cli;
  cli.setApplicationDescription(QStringLiteral(
      "Draws the Pareto chart of a sweep folder (harmful score against utility, model size as the marker, the "
      "non-dominated runs ringed) from its sweep.json into DIR/pareto.png and DIR/pareto.svg."));
  cli.addHelpOption();
  cli.addPositionalArgument(QStringLiteral("DIR"), QStringLiteral("a sweep folder (safequant sweep)"));
  const QCommandLineOption width(QStringLiteral("width"), QStringLiteral("width in pixels (default 960)"), QStringLiteral("W"), QStringLiteral("960"));
  const QCommandLineOption height(QStringLiteral("height"), QStringLiteral("height in pixels (default 640)"), QStringLiteral("H"), QStringLiteral("640"));
  cli.addOption(width);
  cli.addOption(height);
  if (!cli.parse(app.arguments())) {
    std::fprintf(stderr, "safequant-chart: %s\n", qPrintable(cli.errorText()));
    return 2;
  }
  if (cli.isSet(QStringLiteral("help"))) cli.showHelp(0);
  const QStringList dirs = cli.positionalArguments();
  bool ok_w = false, ok_h = false;
  const QSize size(cli.value(width).toInt(&ok_w), cli.value(height).toInt(&ok_h));
  if (dirs.size() != 1 || !ok_w || !ok_h || size.width() < 200 || size.height() < 150 || size.width() > 8000 || size.height() > 8000) {
    std::fprintf(stderr, "safequant-chart: give one sweep folder, and a size from 200x150 to 8000x8000\n");
    return 2;
  }
  const QDir dir(dirs.front());
  try {
    ParetoChart::write(sq::read_sweep_table(dir.path().toStdString()), dir.filePath(QStringLiteral("pareto.png")),
                       dir.filePath(QStringLiteral("pareto.svg")), size);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "safequant-chart: %s\n", e.what());
    return 1;
  }
  return 0;
}
