#include "app/studio/probe_controller.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QtCharts/QXYSeries>

#include "app/studio/calibration_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "core/io/json_file.h"
#include "core/probe/probe_run.h"

ProbeController::ProbeController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), calibration_(calibration), jobs_(jobs) {}

bool ProbeController::run(const QString& quantRun, bool tsne, bool fromAligned) {
  const std::string target = models_->target().toStdString(), aligned = models_->aligned().toStdString(), run_dir = quantRun.toStdString();
  const std::string target_label = sq::probe_label(QFileInfo(models_->target()).fileName().toStdString()),
                    run_label = sq::probe_label(QFileInfo(quantRun).fileName().toStdString());
  const std::vector<sq::Prompt> prompts = calibration_->prompts();
  const QString out = workspace_ + (fromAligned ? QStringLiteral("/probe-aligned") : QStringLiteral("/probe")) +
                      (quantRun.isEmpty() ? QString() : QStringLiteral("-") + QFileInfo(quantRun).fileName());
  return jobs_->start(QStringLiteral("probe"), [=](const sq::Progress& progress) -> std::function<void()> {
    if (target.empty()) throw std::runtime_error("choose a target model first (Models page)");
    if (fromAligned && aligned.empty()) throw std::runtime_error("choose the aligned model first (Models page)");
    if (prompts.empty()) throw std::runtime_error("add labelled prompt files first (Calibration page)");
    const auto model = sq::Model::load(fromAligned ? aligned : target);
    std::vector<std::unique_ptr<sq::Model>> compared;
    sq::ProbeOptions o;
    if (fromAligned) {
      compared.push_back(sq::Model::load(target));
      o.compared.push_back({target_label, compared.back().get()});
    }
    if (!run_dir.empty()) {
      compared.push_back(sq::Model::load(target, run_dir));
      o.compared.push_back({fromAligned ? run_label : std::string("quantized"), compared.back().get()});
    }
    o.tsne = tsne;
    o.replace = true;  // the workspace's own probe folder: the last probe replaces the one before
    o.progress = progress;
    sq::run_probe(*model, prompts, o, out.toStdString());
    return [this, out] { load(out); };
  });
}

bool ProbeController::load(const QString& dir) {
  const nlohmann::json probe = sq::read_json_file_or_null((dir + QStringLiteral("/probe.json")).toStdString());
  const nlohmann::json cmp = sq::read_json_file_or_null((dir + QStringLiteral("/comparison.json")).toStdString());
  projection_ = sq::read_json_file_or_null((dir + QStringLiteral("/projection.json")).toStdString());
  layers_.clear();
  methods_.clear();
  compared_.clear();
  reference_.clear();
  folder_.clear();
  if (!probe.is_object() || !probe.contains("layers")) {
    Q_EMIT changed();
    return false;
  }
  folder_ = dir;
  reference_ = QString::fromStdString(probe.value("model", ""));
  for (const auto& l : probe["layers"]) {
    QVariantMap m{{QStringLiteral("layer"), l.value("layer", 0)},
                  {QStringLiteral("accuracy"), 100 * l.value("accuracy", 0.0)},
                  {QStringLiteral("margin"), l.value("margin", 0.0)},
                  {QStringLiteral("auc"), l.value("auc", 0.0)},
                  {QStringLiteral("nonzero"), l.value("nonzero", 0)}};
    if (l.contains("cv")) {  // cross-validated: mean and spread over the folds
      const nlohmann::json& cv = l["cv"];
      m.insert(QStringLiteral("cvAccuracy"), 100 * cv["accuracy"].value("mean", 0.0));
      m.insert(QStringLiteral("cvAccuracyStd"), 100 * cv["accuracy"].value("std", 0.0));
      m.insert(QStringLiteral("cvAuc"), cv["auc"].value("mean", 0.0));
      m.insert(QStringLiteral("cvAucStd"), cv["auc"].value("std", 0.0));
    }
    layers_.push_back(m);
  }
  std::vector<QVariantList> per_layer(size_t(layers_.size()));
  if (cmp.is_object() && cmp.contains("compared") && cmp["compared"].is_array())
    for (const auto& c : cmp["compared"]) {
      compared_.push_back(QVariantMap{{QStringLiteral("label"), QString::fromStdString(c.value("label", ""))},
                                      {QStringLiteral("model"), QString::fromStdString(c.value("model", ""))},
                                      {QStringLiteral("quantRun"), QString::fromStdString(c.value("quant_run", ""))}});
      for (size_t i = 0; i < per_layer.size(); ++i) {
        const nlohmann::json l = c.contains("layers") && i < c["layers"].size() ? c["layers"][i] : nlohmann::json::object();
        per_layer[i].push_back(QVariantMap{{QStringLiteral("accuracy"), 100 * l.value("accuracy", 0.0)},
                                           {QStringLiteral("margin"), l.value("margin", 0.0)},
                                           {QStringLiteral("auc"), l.value("auc", 0.0)},
                                           {QStringLiteral("maliciousSide"), 100 * l.value("malicious_side", 0.0)}});
      }
    }
  for (size_t i = 0; i < per_layer.size(); ++i) {
    QVariantMap m = layers_[int(i)].toMap();
    m.insert(QStringLiteral("compared"), per_layer[i]);
    layers_[int(i)] = m;
  }
  if (projection_.is_object() && projection_.contains("layers") && !projection_["layers"].empty())
    for (const char* m : {"pca", "probe_plane", "tsne"})
      if (projection_["layers"][0].contains(m)) methods_.push_back(QString::fromLatin1(m));
  selected_ = std::min(selected_, std::max(0, int(layers_.size()) - 1));
  Q_EMIT changed();
  Q_EMIT selectedLayerChanged();
  return true;
}

const nlohmann::json* ProbeController::layer_points(int layer, const QString& method, int compared) const {
  if (!projection_.is_object() || !projection_.contains("layers") || layer < 0 || layer >= int(projection_["layers"].size()))
    return nullptr;
  const nlohmann::json* l = &projection_["layers"][size_t(layer)];
  if (compared >= 0) {
    if (!l->contains("compared") || compared >= int((*l)["compared"].size())) return nullptr;
    l = &(*l)["compared"][size_t(compared)];
  }
  const std::string key = method.toStdString();
  return l->contains(key) ? &(*l)[key] : nullptr;
}

QVariantList ProbeController::points(int layer, const QString& method, int compared) const {
  QVariantList out;
  const nlohmann::json* found = layer_points(layer, method, compared);
  if (!found) return out;
  const auto& xy = *found;
  for (size_t i = 0; i < xy.size(); ++i)
    out.push_back(QVariantMap{{QStringLiteral("x"), xy[i][0].get<double>()},
                              {QStringLiteral("y"), xy[i][1].get<double>()},
                              {QStringLiteral("label"), projection_["labels"][i].get<int>()},
                              {QStringLiteral("id"), QString::fromStdString(projection_["ids"][i].get<std::string>())},
                              {QStringLiteral("split"), QString::fromStdString(projection_["split"][i].get<std::string>())}});
  return out;
}

QVariantMap ProbeController::fillSeries(QObject* benign, QObject* malicious, int layer, const QString& method, int compared) const {
  auto* b = qobject_cast<QXYSeries*>(benign);
  auto* m = qobject_cast<QXYSeries*>(malicious);
  QList<QPointF> bp, mp;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  if (const nlohmann::json* found = layer_points(layer, method, compared)) {
    const auto& xy = *found;
    for (size_t i = 0; i < xy.size(); ++i) {
      const QPointF p(xy[i][0].get<double>(), xy[i][1].get<double>());
      (projection_["labels"][i].get<int>() == 1 ? mp : bp).push_back(p);
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
