#include "app/studio/quantize_controller.h"

#include <QDateTime>
#include <QDir>
#include <QMetaObject>

#include <map>
#include <nlohmann/json.hpp>

#include "app/studio/calibration_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "app/studio/results_controller.h"
#include "core/eval/evaluate.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/quant/quantizer.h"

QuantizeController::QuantizeController(ModelsController* models, CalibrationController* calibration, ResultsController* results,
                                       JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), calibration_(calibration), results_(results), jobs_(jobs) {}

QStringList QuantizeController::schemes() const {
  QStringList names;
  for (const std::string& s : sq::scheme_presets()) names << QString::fromStdString(s);
  return names;
}

QStringList QuantizeController::methods() const {
  return {QStringLiteral("rtn"), QStringLiteral("gptq"), QStringLiteral("q-realign"), QStringLiteral("aaq"), QStringLiteral("lwc")};
}

QString QuantizeController::check(const QVariantMap& s) const {
  const QString method = s.value(QStringLiteral("method"), QStringLiteral("rtn")).toString();
  if (models_->target().isEmpty()) return tr("Choose a target model on the Models page.");
  try {
    sq::parse_scheme(s.value(QStringLiteral("scheme"), QStringLiteral("w8a8")).toString().toStdString());
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  if (method != QStringLiteral("rtn") && calibration_->prompts().empty()) return tr("Add calibration prompts on the Calibration page.");
  if (method == QStringLiteral("aaq") && models_->base().isEmpty()) return tr("AAQ needs the unaligned base model (Models page).");
  if (method == QStringLiteral("q-realign") && (models_->aligned().isEmpty() || models_->aligned() == models_->target()))
    return tr("Q-realign follows the aligned model's probes: choose the aligned model, other than the target (Models page).");
  return {};
}

void QuantizeController::showRun(const QString& runDir) {
  const auto j = sq::read_json_file_or_null((runDir + QStringLiteral("/run.json")).toStdString());
  if (!j.is_object()) return;
  loss_.clear();
  std::map<std::string, int> steps;
  for (const auto& p : j.value("training_loss", nlohmann::json::array())) {
    const std::string series = p.value("series", "");
    loss_.push_back(QVariantMap{{QStringLiteral("series"), QString::fromStdString(series)},
                                {QStringLiteral("step"), steps[series]++},
                                {QStringLiteral("value"), p.value("value", 0.0)}});
  }
  last_run_ = runDir;
  Q_EMIT lossChanged();
  Q_EMIT lastRunChanged();
}

bool QuantizeController::start(const QVariantMap& s) {
  if (!check(s).isEmpty()) return false;
  sq::QuantizeOptions o;
  o.method = s.value(QStringLiteral("method"), QStringLiteral("rtn")).toString().toStdString();
  o.scheme = sq::parse_scheme(s.value(QStringLiteral("scheme"), QStringLiteral("w8a8")).toString().toStdString());
  o.samples = s.value(QStringLiteral("samples"), 200).toInt();
  o.ratio = s.value(QStringLiteral("ratio"), 0.75).toDouble();
  o.lambda = s.value(QStringLiteral("lambda"), 0.5).toDouble();
  o.epochs = s.value(QStringLiteral("epochs"), 10).toInt();
  o.seed = s.value(QStringLiteral("seed"), 0).toULongLong();
  o.rotate = s.value(QStringLiteral("rotate"), o.method == "aaq").toBool();
  if (o.method == "aaq") o.lr = 0.002;
  o.prompts = calibration_->prompts();
  if (o.method == "q-realign") o.aligned_dir = models_->aligned().toStdString();
  o.base_dir = models_->base().toStdString();
  const bool evaluate = s.value(QStringLiteral("evaluate"), true).toBool();
  const int max_new = s.value(QStringLiteral("maxNew"), 32).toInt();
  const std::string target = models_->target().toStdString();
  const QString name = QStringLiteral("%1-%2-%3").arg(QString::fromStdString(o.method), QString::fromStdString(o.scheme.name),
                                                     QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
  const QString dir = results_->runsDir() + QLatin1Char('/') + name;
  // Read on this thread (the file list belongs to the GUI); a bad file fails the job with its name.
  std::vector<sq::Prompt> eval_prompts;
  std::string problem;
  try {
    if (evaluate && !calibration_->evalFiles().isEmpty()) eval_prompts = calibration_->evalPrompts();
  } catch (const std::exception& e) {
    problem = e.what();
  }
  loss_.clear();
  Q_EMIT lossChanged();
  o.on_loss = [this](const std::string& series, double value) {
    QMetaObject::invokeMethod(
        this,
        [this, series = QString::fromStdString(series), value] {
          int step = 0;
          for (const QVariant& p : loss_) step += p.toMap().value(QStringLiteral("series")).toString() == series;
          loss_.push_back(QVariantMap{{QStringLiteral("series"), series}, {QStringLiteral("step"), step}, {QStringLiteral("value"), value}});
          Q_EMIT lossChanged();
        },
        Qt::QueuedConnection);
  };
  return jobs_->start(QStringLiteral("quantize"), [=](const sq::Progress& progress) mutable -> std::function<void()> {
    if (!problem.empty()) throw std::runtime_error(problem);
    o.progress = progress;
    QDir().mkpath(results_->runsDir());
    sq::quantize_model(target, o, dir.toStdString());
    if (!eval_prompts.empty()) {
      sq::EvalOptions e;
      e.max_new_tokens = max_new;
      e.progress = progress;
      const auto refusals = sq::RefusalMatcher::shipped_default();
      const std::string text = sq::to_json(sq::evaluate(*sq::Model::load(target, dir.toStdString()), eval_prompts, refusals, e), false);
      sq::write_atomically((dir + QStringLiteral("/eval.json")).toStdString(), [&](std::ostream& out) { out << text << "\n"; });
    }
    return [this, dir] {
      last_run_ = dir;
      results_->reload();
      Q_EMIT lastRunChanged();
      Q_EMIT finished();
    };
  });
}
