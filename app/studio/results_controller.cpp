#include "app/studio/results_controller.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <filesystem>

#include "app/studio/calibration_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "app/charts/pareto_chart.h"
#include "core/eval/evaluate.h"
#include "core/eval/judge.h"
#include "core/experiment/sweep_table.h"

namespace {

QVariant number(const std::optional<double>& v) { return v ? QVariant(*v) : QVariant(); }

QVariantMap figures(const std::optional<sq::EvalReport>& e) {
  if (!e) return {};
  return {{QStringLiteral("harmful"), e->harmful_score},
          {QStringLiteral("overRefusal"), e->refusal_rate_benign},
          {QStringLiteral("overRefusalXstest"), number(e->refusal_rate_xstest_safe)},
          {QStringLiteral("task"), number(e->task_accuracy)},
          {QStringLiteral("perplexity"), number(e->perplexity)},
          {QStringLiteral("judged"), e->judge ? QVariant(e->judge->harmful_score) : QVariant()},
          {QStringLiteral("kappa"), e->judge ? number(e->judge->kappa) : QVariant()}};
}

}  // namespace

ResultsController::ResultsController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), calibration_(calibration), jobs_(jobs) {}

QString ResultsController::shippedEfficacyTable() const {
  for (const QString& path : {QCoreApplication::applicationDirPath() + QStringLiteral("/../share/safequant/efficacy.md"),
                              QStringLiteral(SQ_SOURCE_DIR "/docs/efficacy.md")})
    if (QFileInfo(path).isFile()) return QFileInfo(path).canonicalFilePath();
  return {};
}

QString ResultsController::readEfficacyTable(const QString& path) {
  QFile file(path);
  QString text;
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
    efficacy_error_ = path + QStringLiteral(": ") + file.errorString();
  else if ((text = QString::fromUtf8(file.read(4 << 20))).isEmpty() || !text.startsWith(QStringLiteral("# Efficacy")))
    efficacy_error_ = path + QStringLiteral(": not an efficacy table (safequant efficacy --out writes one)"), text.clear();
  else
    efficacy_error_.clear();
  Q_EMIT changed();
  return text;
}

void ResultsController::reload() {
  runs_.clear();
  if (!workspace_) return;
  for (const sq::EvalReport& row : workspace_->baseline()) {
    QVariantMap m = figures(row);
    const QString model = QString::fromStdString(row.model);
    m.insert({{QStringLiteral("name"), QFileInfo(model).fileName() + QStringLiteral(" (full precision)")},
              {QStringLiteral("method"), QStringLiteral("—")},
              {QStringLiteral("scheme"), QStringLiteral("fp")},
              {QStringLiteral("dir"), model},
              {QStringLiteral("baseline"), true}});
    runs_.push_back(m);
  }
  sweeps_.clear();
  for (const std::string& d : workspace_->sweeps()) sweeps_ << QString::fromStdString(d);
  readSweep();  // its finished runs join the list
  for (const QVariant& v : sweep_.value(QStringLiteral("runs")).toList()) {
    const QVariantMap r = v.toMap();
    if (r.value(QStringLiteral("status")).toString() != QStringLiteral("done")) continue;
    QVariantMap m = r;
    m.insert({{QStringLiteral("name"), sweep_.value(QStringLiteral("name")).toString() + QStringLiteral(": ") + r.value(QStringLiteral("label")).toString()},
              {QStringLiteral("baseline"), false}});
    runs_.push_back(m);
  }
  for (const sq::Workspace::Run& run : workspace_->runs()) {
    QVariantMap m = figures(run.eval);
    m.insert({{QStringLiteral("name"), QString::fromStdString(run.name)},
              {QStringLiteral("method"), QString::fromLatin1(sq::info(run.record.method).name)},
              {QStringLiteral("scheme"), QString::fromStdString(run.record.scheme.name)},
              {QStringLiteral("dir"), QString::fromStdString(run.dir)},
              {QStringLiteral("model"), QString::fromStdString(run.record.model)},
              {QStringLiteral("sizeMB"), run.quant_bytes / 1e6},
              {QStringLiteral("seconds"), run.record.seconds},
              {QStringLiteral("baseline"), false}});
    runs_.push_back(m);
  }
  Q_EMIT changed();
}

bool ResultsController::openSweep(const QString& dir) {
  sweep_dir_ = dir;
  reload();
  return !sweep_.contains(QStringLiteral("error"));
}

void ResultsController::readSweep() {
  sweep_.clear();
  if (sweep_dir_.isEmpty()) return;
  const QString dir = sweep_dir_;
  sweep_ = {{QStringLiteral("dir"), dir}, {QStringLiteral("name"), QFileInfo(dir).fileName()}};
  try {
    const sq::SweepTable t = sq::read_sweep_table(dir.toStdString());
    QStringList fields;
    for (const std::string& f : t.fields) fields << QString::fromStdString(f);
    QVariantList runs;
    for (const sq::SweepTableRow& r : t.runs) {
      const std::optional<double> utility = sq::sweep_utility(r);
      runs.push_back(QVariantMap{{QStringLiteral("name"), QString::fromStdString(r.name)},
                                 {QStringLiteral("label"), ParetoChart::label(r)},
                                 {QStringLiteral("status"), QString::fromStdString(r.status)},
                                 {QStringLiteral("harmful"), number(r.harmful_score)},
                                 {QStringLiteral("judged"), number(r.judged_harmful_score)},
                                 {QStringLiteral("kappa"), number(r.judge_kappa)},
                                 {QStringLiteral("overRefusal"), number(r.refusal_rate_benign)},
                                 {QStringLiteral("overRefusalXstest"), number(r.refusal_rate_xstest_safe)},
                                 {QStringLiteral("task"), number(r.task_accuracy)},
                                 {QStringLiteral("perplexity"), number(r.perplexity)},
                                 {QStringLiteral("utility"), number(utility)},
                                 {QStringLiteral("sizeMB"), r.model_mb},
                                 {QStringLiteral("seconds"), r.seconds},
                                 {QStringLiteral("pareto"), r.pareto},
                                 {QStringLiteral("dir"), QString::fromStdString((std::filesystem::path(r.dir) / "quant").string())},
                                 {QStringLiteral("log"), QString::fromStdString(r.log)}});
      if (r.status != "done") continue;
      try {  // the method and scheme, swept or not, for the table
        const sq::RunRecord record = sq::read_run_record((std::filesystem::path(r.dir) / "quant").string());
        QVariantMap m = runs.back().toMap();
        m.insert({{QStringLiteral("method"), QString::fromLatin1(sq::info(record.method).name)},
                  {QStringLiteral("scheme"), QString::fromStdString(record.scheme.name)}});
        runs.back() = m;
      } catch (const std::exception&) {
      }
    }
    sweep_.insert({{QStringLiteral("fields"), fields},
                   {QStringLiteral("utilityName"), QString::fromStdString(sq::sweep_utility_name(t))},
                   {QStringLiteral("runs"), runs}});
  } catch (const std::exception& e) {
    sweep_.insert(QStringLiteral("error"), QString::fromUtf8(e.what()));
  }
}

void ResultsController::setSelectedRun(const QString& dir) {
  if (dir == selected_run_) return;
  selected_run_ = dir;
  Q_EMIT selectedRunChanged();
}

bool ResultsController::evaluateBaseline(int maxNewTokens) {
  std::vector<std::string> dirs;
  for (const QString& d : {models_->target(), models_->aligned()})
    if (!d.isEmpty()) dirs.push_back(d.toStdString());
  const std::string out = workspace_->baseline_eval();
  // Read on this thread (the file list belongs to the GUI); a bad file fails the job with its name.
  std::vector<sq::Prompt> prompts;
  std::string problem = dirs.empty() ? "choose a target model first (Models page)" : "";
  try {
    if (problem.empty()) prompts = calibration_->evalPrompts();
  } catch (const std::exception& e) {
    problem = e.what();
  }
  const sq::ComputeDevice device = models_->computeDevice();
  const std::string judge = models_->judge().toStdString();
  return jobs_->start(QStringLiteral("evaluate"), [=](const sq::Progress& progress) -> std::function<void()> {
    if (!problem.empty()) throw std::runtime_error(problem);
    const auto refusals = sq::RefusalMatcher::shipped_default();
    sq::EvalOptions o;
    o.max_new_tokens = maxNewTokens;
    o.progress = progress;
    std::vector<sq::EvalReport> reports;
    for (const std::string& d : dirs) reports.push_back(sq::evaluate(*sq::Model::load(d, "", false, device), prompts, refusals, o));
    sq::judge_reports(reports, prompts, judge, sq::JudgeFormat::LlamaGuard3, device, progress);
    std::filesystem::create_directories(std::filesystem::path(out).parent_path());
    sq::write_eval_json(out, reports);
    return [this] { reload(); };
  });
}
