#include "app/studio/probe_controller.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QtCharts/QXYSeries>

#include "app/studio/calibration_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "core/probe/probe_run.h"

ProbeController::ProbeController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), calibration_(calibration), jobs_(jobs) {}

bool ProbeController::run(const QString& quantRun, bool tsne, bool fromAligned) {
  const std::string target = models_->target().toStdString(), aligned = models_->aligned().toStdString(), run_dir = quantRun.toStdString();
  const std::string target_label = sq::probe_label(QFileInfo(models_->target()).fileName().toStdString()),
                    run_label = sq::probe_label(QFileInfo(quantRun).fileName().toStdString());
  const std::vector<sq::Prompt> prompts = calibration_->prompts();
  const sq::ComputeDevice device = models_->computeDevice();
  const QString out = QString::fromStdString(workspace_->probe_dir(fromAligned, QFileInfo(quantRun).fileName().toStdString()));
  return jobs_->start(QStringLiteral("probe"), [=](const sq::Progress& progress) -> std::function<void()> {
    if (target.empty()) throw std::runtime_error("choose a target model first (Models page)");
    if (fromAligned && aligned.empty()) throw std::runtime_error("choose the aligned model first (Models page)");
    if (prompts.empty()) throw std::runtime_error("add labelled prompt files first (Calibration page)");
    const auto model = sq::Model::load(fromAligned ? aligned : target, "", false, device);
    std::vector<std::unique_ptr<sq::Model>> compared;
    sq::ProbeOptions o;
    if (fromAligned) {
      compared.push_back(sq::Model::load(target, "", false, device));
      o.compared.push_back({target_label, compared.back().get()});
    }
    if (!run_dir.empty()) {
      compared.push_back(sq::Model::load(target, run_dir, false, device));
      o.compared.push_back({fromAligned ? run_label : std::string("quantized"), compared.back().get()});
    }
    o.tsne = tsne;
    // A prompt past the model's context keeps its last tokens (where the probe reads), and the
    // page says how many did.
    o.truncate = true;
    o.replace = true;  // the workspace's own probe folder: the last probe replaces the one before
    o.progress = progress;
    sq::run_probe(*model, prompts, o, out.toStdString());
    return [this, out] { load(out); };
  });
}

bool ProbeController::load(const QString& dir) {
  layers_.clear();
  methods_.clear();
  compared_.clear();
  reference_.clear();
  folder_.clear();
  note_.clear();
  projection_ = {};
  sq::ProbeReport probe;
  try {
    probe = sq::read_probe_report(dir.toStdString());
  } catch (const std::exception&) {  // no probe folder (yet), or not one: the pages show none
    Q_EMIT changed();
    return false;
  }
  try {
    projection_ = sq::read_projection(dir.toStdString());
  } catch (const std::exception&) {  // a folder without its maps still shows its figures
  }
  folder_ = dir;
  note_ = QString::fromStdString(probe.note);
  reference_ = QString::fromStdString(probe.model);
  for (const sq::ComparedProbes& c : probe.compared)
    compared_.push_back(QVariantMap{{QStringLiteral("label"), QString::fromStdString(c.label)},
                                    {QStringLiteral("model"), QString::fromStdString(c.model)},
                                    {QStringLiteral("quantRun"), QString::fromStdString(c.quant_run)}});
  for (size_t i = 0; i < probe.layers.size(); ++i) {
    const sq::LayerProbe& l = probe.layers[i];
    QVariantMap m{{QStringLiteral("layer"), l.layer},
                  {QStringLiteral("accuracy"), 100 * l.accuracy},
                  {QStringLiteral("margin"), l.margin},
                  {QStringLiteral("auc"), l.auc},
                  {QStringLiteral("nonzero"), qint64(l.nonzero)}};
    if (!probe.cv_folds.empty()) {  // cross-validated: mean and spread over the folds
      m.insert(QStringLiteral("cvAccuracy"), 100 * l.cv_accuracy.mean);
      m.insert(QStringLiteral("cvAccuracyStd"), 100 * l.cv_accuracy.std);
      m.insert(QStringLiteral("cvAuc"), l.cv_auc.mean);
      m.insert(QStringLiteral("cvAucStd"), l.cv_auc.std);
    }
    QVariantList compared;
    for (const sq::ComparedProbes& c : probe.compared)
      compared.push_back(QVariantMap{{QStringLiteral("accuracy"), 100 * c.layers[i].accuracy},
                                     {QStringLiteral("margin"), c.layers[i].margin},
                                     {QStringLiteral("auc"), c.layers[i].auc},
                                     {QStringLiteral("maliciousSide"), 100 * c.layers[i].malicious_side}});
    m.insert(QStringLiteral("compared"), compared);
    layers_.push_back(m);
  }
  if (!projection_.layers.empty())
    for (const auto& [method, points] : projection_.layers.front().reference) methods_.push_back(QString::fromLatin1(sq::info(method).key));
  selected_ = std::min(selected_, std::max(0, int(layers_.size()) - 1));
  Q_EMIT changed();
  Q_EMIT selectedLayerChanged();
  return true;
}

const sq::Projection::Points* ProbeController::layer_points(int layer, const QString& method, int compared) const {
  if (layer < 0 || layer >= int(projection_.layers.size())) return nullptr;
  const sq::Projection::Layer& l = projection_.layers[size_t(layer)];
  if (compared >= int(l.compared.size())) return nullptr;
  const sq::Projection::Maps& maps = compared < 0 ? l.reference : l.compared[size_t(compared)];
  for (const auto& [m, points] : maps)
    if (method == QLatin1String(sq::info(m).key)) return &points;
  return nullptr;
}

QVariantList ProbeController::points(int layer, const QString& method, int compared) const {
  QVariantList out;
  const sq::Projection::Points* found = layer_points(layer, method, compared);
  if (!found) return out;
  for (size_t i = 0; i < found->size(); ++i)
    out.push_back(QVariantMap{{QStringLiteral("x"), (*found)[i][0]},
                              {QStringLiteral("y"), (*found)[i][1]},
                              {QStringLiteral("label"), projection_.labels[i]},
                              {QStringLiteral("id"), QString::fromStdString(projection_.ids[i])},
                              {QStringLiteral("split"), QString::fromStdString(projection_.split[i])}});
  return out;
}

QVariantMap ProbeController::fillSeries(QObject* benign, QObject* malicious, int layer, const QString& method, int compared) const {
  auto* b = qobject_cast<QXYSeries*>(benign);
  auto* m = qobject_cast<QXYSeries*>(malicious);
  QList<QPointF> bp, mp;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  if (const sq::Projection::Points* found = layer_points(layer, method, compared)) {
    for (size_t i = 0; i < found->size(); ++i) {
      const QPointF p((*found)[i][0], (*found)[i][1]);
      (projection_.labels[i] == 1 ? mp : bp).push_back(p);
      x0 = std::min(x0, p.x()), x1 = std::max(x1, p.x()), y0 = std::min(y0, p.y()), y1 = std::max(y1, p.y());
    }
  }
  if (b) b->replace(bp);
  if (m) m->replace(mp);
  if (bp.isEmpty() && mp.isEmpty()) return {};
  return {{QStringLiteral("x0"), x0}, {QStringLiteral("x1"), x1}, {QStringLiteral("y0"), y0}, {QStringLiteral("y1"), y1}};
}

bool ProbeController::exportCoordinates(const QString& path) const {
  if (folder_.isEmpty()) return false;
  const QString from = folder_ + (path.endsWith(QStringLiteral(".csv")) ? QStringLiteral("/projection.csv") : QStringLiteral("/projection.json"));
  const QString tmp = path + QStringLiteral(".part");
  QFile::remove(tmp);
  if (!QFile::copy(from, tmp)) return false;
  QFile::remove(path);
  return QFile::rename(tmp, path);
}

void ProbeController::setSelectedLayer(int layer) {
  if (layer == selected_) return;
  selected_ = layer;
  Q_EMIT selectedLayerChanged();
}
