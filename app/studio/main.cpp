// safequant-studio: the Qt Quick workbench over core.
#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QTimer>
#include <QtQml/QQmlExtensionPlugin>
#include <cstdio>

#include "app/studio/studio_options.h"
#include "core/run/allocator.h"
#include "core/run/blas_kernels.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"
#include "core/version.h"

Q_IMPORT_QML_PLUGIN(SafeQuantPlugin)
Q_IMPORT_QML_PLUGIN(SafeQuant_ControllersPlugin)

namespace {

// Saves the window once bindings, layouts and charts have settled, then quits with 0, or 1 when
// saving failed. grabWindow() renders the scene itself, so this also works offscreen, where no
// frame is ever presented.
void screenshotWhenSettled(QQuickWindow* window, const QString& path, int delayMs) {
  QTimer::singleShot(delayMs, window, [=] {
    const QImage image = window->grabWindow();
    const QString tmp = path + QStringLiteral(".part.png");
    const bool ok = !image.isNull() && image.save(tmp, "PNG") &&
                    (!QFileInfo::exists(path) || QFile::remove(path)) && QFile::rename(tmp, path);
    if (!ok) {
      QFile::remove(tmp);
      std::fprintf(stderr, "safequant-studio: could not write screenshot %s\n", qPrintable(path));
    }
    QCoreApplication::exit(ok ? 0 : 1);
  });
}

}  // namespace

int main(int argc, char** argv) {
  sq::keep_freed_memory();
  sq::reexec_with_fitting_blas(argv);
  // Qt Charts needs a QApplication (a QGuiApplication crashes in ChartView).
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("safequant-studio"));
  QApplication::setOrganizationName(QStringLiteral("SafeQuant"));
  QApplication::setApplicationVersion(QStringLiteral(SAFEQUANT_VERSION));
  const StudioOptions options = parseStudioOptions(QApplication::arguments());
  if (!options.error.isEmpty()) {
    std::fprintf(stderr, "safequant-studio: %s\n", qPrintable(options.error));
    return 2;
  }
  sq::start_thread_fitting();
  QQuickStyle::setStyle(QStringLiteral("Material"));

  QQmlApplicationEngine engine;
  engine.setInitialProperties({{QStringLiteral("initialPage"), options.page},
                               {QStringLiteral("darkTheme"), options.dark}});
  engine.load(QUrl(QStringLiteral("qrc:/SafeQuant/Main.qml")));
  if (engine.rootObjects().isEmpty()) {
    std::fprintf(stderr, "safequant-studio: the user interface failed to load\n");
    return 1;
  }
  auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().first());
  if (!options.screenshot.isEmpty()) {
    if (!window) return 1;
    screenshotWhenSettled(window, QFileInfo(options.screenshot).absoluteFilePath(), 800);
  }
  return QApplication::exec();
}
