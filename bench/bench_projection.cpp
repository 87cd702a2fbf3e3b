// How the Projection page copes with 5000 points per plot: the real window (Main.qml, Material,
// Qt Charts) on the projection page, fed a probe folder of 5000 random points per layer and
// basis, timed from a layer switch to a rendered frame (grabWindow renders the scene), offscreen.
#include <QApplication>
#include <QElapsedTimer>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QtQml/QQmlExtensionPlugin>

#include <cstdio>
#include <random>

#include "app/studio/workbench.h"
#include "core/probe/probe_folder.h"

Q_IMPORT_QML_PLUGIN(SafeQuantPlugin)
Q_IMPORT_QML_PLUGIN(SafeQuant_ControllersPlugin)

namespace {

void write_probe_folder(const QString& dir, int points, int layers) {
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  sq::ProbeReport probe;
  probe.model = "bench";
  sq::Projection proj;
  for (int i = 0; i < points; ++i) {
    proj.ids.push_back("p" + std::to_string(i));
    proj.labels.push_back(i % 2);
    proj.split.push_back(i % 5 ? "train" : "test");
  }
  sq::ComparedProbes quantized{{"quantized", "bench", "bench-run"}, {}};
  auto random_maps = [&] {
    sq::Projection::Maps maps;
    for (sq::ProjectionMethod m : {sq::ProjectionMethod::Pca, sq::ProjectionMethod::ProbePlane})
      for (int i = 0; i < points; ++i) maps[m].push_back({normal(rng) + float(i % 2) * 2.0f, normal(rng)});
    return maps;
  };
  for (int l = 0; l < layers; ++l) {
    sq::LayerProbe p;
    p.layer = l, p.accuracy = 0.9, p.margin = 2.0, p.auc = 0.95, p.nonzero = 10, p.w.assign(16, 0.1f);
    probe.layers.push_back(p);
    quantized.layers.push_back({0.85, 0.85, 0.9, 1.5, 0.8});
    proj.layers.push_back({random_maps(), {random_maps()}, {}});
  }
  probe.compared.push_back(quantized);
  proj.compared.push_back(quantized);
  sq::write_probe_report(dir.toStdString(), probe);
  sq::write_projection(dir.toStdString(), proj);
}

}  // namespace

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QTemporaryDir tmp;
  qputenv("SAFEQUANT_WORKSPACE", tmp.path().toUtf8());
  QApplication app(argc, argv);
  QQuickStyle::setStyle(QStringLiteral("Material"));
  const int points = argc > 1 ? std::atoi(argv[1]) : 5000, layers = 8;
  write_probe_folder(tmp.path(), points, layers);

  QQmlApplicationEngine engine;
  engine.setInitialProperties({{QStringLiteral("initialPage"), QStringLiteral("projection")}});
  engine.load(QUrl(QStringLiteral("qrc:/SafeQuant/Main.qml")));
  auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().value(0));
  auto* wb = engine.singletonInstance<Workbench*>(qmlTypeId("SafeQuant.Controllers", 1, 0, "Workbench"));
  if (!window || !wb) {
    std::fprintf(stderr, "bench_projection: the window did not load\n");
    return 1;
  }
  // The charts repaint from queued events: let them run, then render the frame.
  auto settle = [&] {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 1000);
    window->grabWindow();
  };
  QElapsedTimer clock;
  clock.start();
  wb->probe()->load(tmp.path());
  settle();
  const double first = double(clock.nsecsElapsed()) / 1e6;
  double total = 0;
  for (int l = 1; l < layers; ++l) {
    clock.restart();
    wb->probe()->setSelectedLayer(l);
    settle();
    total += double(clock.nsecsElapsed()) / 1e6;
  }
  std::printf("Projection page, %d points per plot (two plots): first frame %.0f ms; layer switch to rendered frame %.0f ms on average\n",
              points, first, total / (layers - 1));
  return 0;
}
