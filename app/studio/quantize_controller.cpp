#include "app/studio/quantize_controller.h"

#include <QDateTime>
#include <QDir>
#include <QMetaObject>

#include <filesystem>
#include <map>

#include "app/studio/calibration_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "app/studio/results_controller.h"
#include "app/charts/pareto_chart.h"
#include "core/eval/evaluate.h"
#include "core/eval/judge.h"
#include "core/experiment/sweep.h"
#include "core/io/atomic_file.h"
#include "core/mixed/allocation.h"
#include "core/quant/quantizer.h"
#include "core/quantized/run_record.h"

QuantizeController::QuantizeController(ModelsController* models, CalibrationController* calibration, ResultsController* results,
                                       JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), calibration_(calibration), results_(results), jobs_(jobs) {}

QStringList QuantizeController::schemes() const {
  QStringList names;
  for (const std::string& s : sq::scheme_presets()) names << QString::fromStdString(s);
  return names;
}

QVariantList QuantizeController::methods() const {
  QVariantList out;
  for (const sq::QuantMethodInfo& m : sq::quant_methods()) {
    const sq::QuantizeOptions d = sq::QuantizeOptions::for_method(m.method);
    out.push_back(QVariantMap{{QStringLiteral("name"), QString::fromLatin1(m.name)},
                              {QStringLiteral("title"), QString::fromUtf8(m.title)},
                              {QStringLiteral("summary"), QString::fromUtf8(m.summary)},
                              {QStringLiteral("calibrated"), m.calibrated},
                              {QStringLiteral("needsAligned"), m.needs_aligned},
                              {QStringLiteral("needsBase"), m.needs_base},
                              {QStringLiteral("rotate"), d.rotate},
                              {QStringLiteral("epochs"), d.epochs},
                              {QStringLiteral("lambda"), d.lambda}});
  }
  return out;
}

int QuantizeController::recommendedMethod() const { return int(sq::kRecommendedMethod); }

namespace {

// The method named in the page's settings; sq::Error for an unknown one.
sq::QuantMethod method_of(const QVariantMap& s) {
  return sq::parse_quant_method(s.value(QStringLiteral("method"), QString::fromLatin1(sq::info(sq::kRecommendedMethod).name)).toString().toStdString());
}

}  // namespace

double QuantizeController::mixed_bits(const QVariantMap& s) { return s.value(QStringLiteral("mixedBits"), 0.0).toDouble(); }

bool QuantizeController::has_sensitivity() const {
  return std::filesystem::exists(std::filesystem::path(workspace_->sensitivity_dir()) / "sensitivity.json");
}

QString QuantizeController::check(const QVariantMap& s) const {
  if (models_->target().isEmpty()) return tr("Choose a target model on the Models page.");
  sq::QuantMethod method;
  try {
    method = method_of(s);
    if (mixed_bits(s) <= 0) sq::parse_scheme(s.value(QStringLiteral("scheme"), QStringLiteral("w8a8")).toString().toStdString());
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  // The allocation itself runs with the job: the knapsack can take seconds on a large model.
  if (mixed_bits(s) > 0 && !has_sensitivity())
    return tr("Mixed precision allocates from the target's sensitivity table: measure it first (Probe page, Sensitivity per unit).");
  const sq::QuantMethodInfo& m = sq::info(method);
  if (m.calibrated && calibration_->prompts().empty()) return tr("Add calibration prompts on the Calibration page.");
  if (m.needs_base && models_->base().isEmpty()) return tr("%1 needs the unaligned base model (Models page).").arg(QString::fromUtf8(m.title));
  if (m.needs_aligned && (models_->aligned().isEmpty() || models_->aligned() == models_->target()))
    return tr("%1 follows the aligned model's probes: choose the aligned model, other than the target (Models page).").arg(QString::fromUtf8(m.title));
  return {};
}

bool QuantizeController::startSweep(const QVariantMap& s, const QVariantList& ratios, const QStringList& schemes) {
  sweep_error_ = check(s);
  if (sweep_error_.isEmpty() && (ratios.isEmpty() || schemes.isEmpty())) sweep_error_ = tr("Give at least one ratio and one scheme.");
  if (sweep_error_.isEmpty() && calibration_->evalFiles().isEmpty())
    sweep_error_ = tr("A sweep compares evaluated runs: add evaluation prompts on the Calibration page.");
  sq::SweepConfig sweep;
  if (sweep_error_.isEmpty()) {
    const sq::QuantMethod method = method_of(s);
    const sq::QuantMethodInfo& m = sq::info(method);
    const sq::QuantizeOptions d = sq::QuantizeOptions::for_method(method);
    auto files = [](const QStringList& l) {
      nlohmann::json a = nlohmann::json::array();
      for (const QString& f : l) a.push_back(f.toStdString());
      return a;
    };
    nlohmann::json run = {{"model", models_->target().toStdString()},
                          {"method", m.name},
                          {"scheme", schemes.front().toStdString()},
                          {"samples", s.value(QStringLiteral("samples"), 200).toInt()},
                          {"seed", s.value(QStringLiteral("seed"), 0).toLongLong()},
                          {"calibration", files(calibration_->files())},
                          {"evaluation", files(calibration_->evalFiles())},
                          {"options", {{"epochs", s.value(QStringLiteral("epochs"), d.epochs).toInt()},
                                       {"rotate", s.value(QStringLiteral("rotate"), d.rotate).toBool()}}},
                          {"eval", {{"max_new_tokens", s.value(QStringLiteral("maxNew"), 32).toInt()}}}};
    if (!models_->judge().isEmpty()) run["eval"]["judge"] = models_->judge().toStdString();
    if (const QString system = s.value(QStringLiteral("system")).toString().trimmed(); !system.isEmpty())
      run["system"] = system.toStdString();
    if (m.needs_base) run["options"]["lambda"] = s.value(QStringLiteral("lambda"), d.lambda).toDouble();
    if (m.needs_aligned) run["aligned"] = models_->aligned().toStdString();
    if (m.needs_base) run["base"] = models_->base().toStdString();
    nlohmann::json grid = {{"ratio", nlohmann::json::array()}, {"scheme", files(schemes)}};
    for (const QVariant& r : ratios) grid["ratio"].push_back(r.toDouble());
    const std::string stamp = QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")).toStdString();
    const std::string config = workspace_->new_sweep_config(stamp);
    try {
      QDir().mkpath(QString::fromStdString(workspace_->sweeps_dir()));
      sq::write_atomically(config, [&](std::ostream& out) {
        out << nlohmann::json{{"run", run}, {"grid", grid}, {"out", stamp}}.dump(2) << "\n";
      });
      sweep = sq::read_sweep_config(config);  // the command line's checks, each naming the key
    } catch (const std::exception& e) {
      sweep_error_ = QString::fromUtf8(e.what());
    }
  }
  Q_EMIT sweepErrorChanged();
  if (!sweep_error_.isEmpty()) return false;
  const sq::ComputeDevice device = models_->computeDevice();
  return jobs_->start(QStringLiteral("sweep"), [=](const sq::Progress& progress) -> std::function<void()> {
    sq::prepare_sweep_folder(sweep);
    sq::run_sweep_here(sweep, progress, device);
    return [this, out = QString::fromStdString(sweep.out)] {
      // On this (the GUI) thread: Qt Charts draws with the application's fonts.
      const QDir dir(out);
      try {
        ParetoChart::write(sq::read_sweep_table(out.toStdString()), dir.filePath(QStringLiteral("pareto.png")),
                           dir.filePath(QStringLiteral("pareto.svg")));
      } catch (const std::exception& e) {
        sweep_error_ = QString::fromUtf8(e.what());
        Q_EMIT sweepErrorChanged();
      }
      results_->openSweep(out);
      Q_EMIT finished();
    };
  });
}

void QuantizeController::showRun(const QString& runDir) {
  sq::RunRecord run;
  try {
    run = sq::read_run_record(runDir.toStdString());
  } catch (const std::exception&) {
    return;  // the Results page lists only runs it could read
  }
  loss_.clear();
  std::map<std::string, int> steps;
  for (const auto& [series, value] : run.training_loss)
    loss_.push_back(QVariantMap{{QStringLiteral("series"), QString::fromStdString(series)},
                                {QStringLiteral("step"), steps[series]++},
                                {QStringLiteral("value"), value}});
  last_run_ = runDir;
  Q_EMIT lossChanged();
  Q_EMIT lastRunChanged();
}

bool QuantizeController::start(const QVariantMap& s) {
  if (!check(s).isEmpty()) return false;
  sq::QuantizeOptions o = sq::QuantizeOptions::for_method(method_of(s));
  o.device = models_->computeDevice();
  const sq::QuantMethodInfo& m = sq::info(o.method);
  const double mixed = mixed_bits(s);
  const std::string table = workspace_->sensitivity_dir();
  if (mixed <= 0) o.scheme = sq::parse_scheme(s.value(QStringLiteral("scheme"), QStringLiteral("w8a8")).toString().toStdString());
  o.samples = s.value(QStringLiteral("samples"), 200).toInt();
  o.ratio = s.value(QStringLiteral("ratio"), 0.75).toDouble();
  o.lambda = s.value(QStringLiteral("lambda"), o.lambda).toDouble();
  o.epochs = s.value(QStringLiteral("epochs"), o.epochs).toInt();
  o.seed = s.value(QStringLiteral("seed"), 0).toULongLong();
  o.rotate = s.value(QStringLiteral("rotate"), o.rotate).toBool();
  o.chat.system = s.value(QStringLiteral("system")).toString().trimmed().toStdString();
  o.prompts = calibration_->prompts();
  if (m.needs_aligned) o.aligned_dir = models_->aligned().toStdString();
  if (m.needs_base) o.base_dir = models_->base().toStdString();
  const bool evaluate = s.value(QStringLiteral("evaluate"), true).toBool();
  const int max_new = s.value(QStringLiteral("maxNew"), 32).toInt();
  const std::string target = models_->target().toStdString();
  const std::string judge = models_->judge().toStdString();
  const QString dir = QString::fromStdString(workspace_->new_run_dir(
      o.method, mixed > 0 ? "mixed-" + QString::number(mixed).toStdString() : o.scheme.name, QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")).toStdString()));
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
    if (mixed > 0) o.mix = sq::scheme_mix(sq::read_sensitivity(table), sq::allocate_for(table, mixed, 0, sq::AllocationObjective::Safety, 1.0));
    o.progress = progress;
    QDir().mkpath(QString::fromStdString(workspace_->runs_dir()));
    sq::quantize_model(target, o, dir.toStdString());
    if (!eval_prompts.empty()) {
      sq::EvalOptions e;
      e.max_new_tokens = max_new;
      e.chat = o.chat;
      e.progress = progress;
      const auto refusals = sq::RefusalMatcher::shipped_default();
      std::vector<sq::EvalReport> reports = {
          sq::evaluate(*sq::Model::load(target, dir.toStdString(), false, o.device), eval_prompts, refusals, e)};
      sq::judge_reports(reports, eval_prompts, judge, sq::JudgeFormat::LlamaGuard3, o.device, progress);
      sq::write_eval_json((dir + QStringLiteral("/eval.json")).toStdString(), reports);
    }
    return [this, dir] {
      last_run_ = dir;
      results_->reload();
      Q_EMIT lastRunChanged();
      Q_EMIT finished();
    };
  });
}
