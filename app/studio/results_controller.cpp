#include "app/studio/results_controller.h"

#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>

#include <nlohmann/json.hpp>

#include "app/studio/calibration_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "core/eval/evaluate.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"

namespace {

using json = nlohmann::json;

QVariant number(const json& j, const char* key) { return j.contains(key) && j[key].is_number() ? QVariant(j[key].get<double>()) : QVariant(); }

QVariantMap figures(const json& e) {
  return {{QStringLiteral("harmful"), number(e, "harmful_score")},
          {QStringLiteral("overRefusal"), number(e, "refusal_rate_benign")},
          {QStringLiteral("task"), number(e, "task_accuracy")},
          {QStringLiteral("perplexity"), number(e, "perplexity")}};
}

double folder_mb(const QString& dir) {
  double bytes = 0;
  QDirIterator it(dir, QDir::Files, QDirIterator::Subdirectories);
  while (it.hasNext()) bytes += double(QFileInfo(it.next()).size());
  return bytes / 1e6;
}

}  // namespace

ResultsController::ResultsController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), calibration_(calibration), jobs_(jobs) {}

QString ResultsController::runsDir() const { return workspace_ + QStringLiteral("/runs"); }

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
  const json base = sq::read_json_file_or_null((workspace_ + QStringLiteral("/baseline/eval.json")).toStdString());
  if (base.is_object() && base.contains("comparison"))
    for (const auto& row : base["comparison"]) {
      QVariantMap m = figures(row);
      const QString model = QString::fromStdString(row.value("model", ""));
      m.insert({{QStringLiteral("name"), QFileInfo(model).fileName() + QStringLiteral(" (full precision)")},
                {QStringLiteral("method"), QStringLiteral("—")},
                {QStringLiteral("scheme"), QStringLiteral("fp")},
                {QStringLiteral("dir"), model},
                {QStringLiteral("baseline"), true}});
      runs_.push_back(m);
    }
  const QFileInfoList dirs = QDir(runsDir()).entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
  for (const QFileInfo& d : dirs) {
    const json run = sq::read_json_file_or_null((d.filePath() + QStringLiteral("/run.json")).toStdString());
    if (!run.is_object()) continue;
    QVariantMap m = figures(sq::read_json_file_or_null((d.filePath() + QStringLiteral("/eval.json")).toStdString()));
    m.insert({{QStringLiteral("name"), d.fileName()},
              {QStringLiteral("method"), QString::fromStdString(run.value("method", ""))},
              {QStringLiteral("scheme"), QString::fromStdString(run["scheme"].value("name", ""))},
              {QStringLiteral("dir"), d.filePath()},
              {QStringLiteral("model"), QString::fromStdString(run.value("model", ""))},
              {QStringLiteral("sizeMB"), folder_mb(d.filePath() + QStringLiteral("/quant"))},
              {QStringLiteral("seconds"), run.value("seconds", 0.0)},
              {QStringLiteral("baseline"), false}});
    runs_.push_back(m);
  }
  Q_EMIT changed();
}

bool ResultsController::evaluateBaseline(int maxNewTokens) {
  std::vector<std::string> dirs;
  for (const QString& d : {models_->target(), models_->aligned()})
    if (!d.isEmpty()) dirs.push_back(d.toStdString());
  const QString out = workspace_ + QStringLiteral("/baseline/eval.json");
  // Read on this thread (the file list belongs to the GUI); a bad file fails the job with its name.
  std::vector<sq::Prompt> prompts;
  std::string problem = dirs.empty() ? "choose a target model first (Models page)" : "";
  try {
    if (problem.empty()) prompts = calibration_->evalPrompts();
  } catch (const std::exception& e) {
    problem = e.what();
  }
  return jobs_->start(QStringLiteral("evaluate"), [=](const sq::Progress& progress) -> std::function<void()> {
    if (!problem.empty()) throw std::runtime_error(problem);
    const auto refusals = sq::RefusalMatcher::shipped_default();
    sq::EvalOptions o;
    o.max_new_tokens = maxNewTokens;
    o.progress = progress;
    std::vector<sq::EvalReport> reports;
    for (const std::string& d : dirs) reports.push_back(sq::evaluate(*sq::Model::load(d), prompts, refusals, o));
    QDir().mkpath(QFileInfo(out).path());
    const std::string text = sq::comparison_json(reports);
    sq::write_atomically(out.toStdString(), [&](std::ostream& s) { s << text << "\n"; });
    return [this] { reload(); };
  });
}
