#include "app/studio/studio_options.h"

#include <QCommandLineParser>

#include "core/version.h"

const QStringList& studioPages() {
  static const QStringList pages = {QStringLiteral("models"),     QStringLiteral("calibration"),
                                    QStringLiteral("probe"),      QStringLiteral("projection"),
                                    QStringLiteral("quantize"),   QStringLiteral("results"),
                                    QStringLiteral("export")};
  return pages;
}

StudioOptions parseStudioOptions(const QStringList& arguments) {
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("SafeQuant Workbench: safety-aware quantization of LLMs"));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption page(QStringLiteral("page"), QStringLiteral("Open this page: %1.").arg(studioPages().join(", ")),
                                QStringLiteral("NAME"));
  const QCommandLineOption shot(QStringLiteral("screenshot"),
                                QStringLiteral("Render the window once loaded, save it as PNG and exit."),
                                QStringLiteral("FILE.png"));
  const QCommandLineOption dark(QStringLiteral("dark"), QStringLiteral("Use the dark palette."));
  parser.addOptions({page, shot, dark});
  parser.process(arguments);  // --help / --version print and exit here

  StudioOptions o;
  if (parser.isSet(page)) o.page = parser.value(page).toLower();
  if (!studioPages().contains(o.page))
    o.error = QStringLiteral("unknown page '%1' (one of: %2)").arg(o.page, studioPages().join(", "));
  o.screenshot = parser.value(shot);
  o.dark = parser.isSet(dark);
  if (!parser.positionalArguments().isEmpty())
    o.error = QStringLiteral("unexpected argument '%1'").arg(parser.positionalArguments().first());
  return o;
}
