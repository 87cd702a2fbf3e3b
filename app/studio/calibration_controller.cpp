#include "app/studio/calibration_controller.h"

#include <QDir>
#include <QFileInfo>
#include <map>

#include "core/data/calibration.h"
#include "core/error.h"

namespace {

std::vector<std::string> paths(const QStringList& files) {
  std::vector<std::string> out;
  for (const QString& f : files) out.push_back(f.toStdString());
  return out;
}

}  // namespace

CalibrationController::CalibrationController(QObject* parent) : QObject(parent) {}

bool CalibrationController::add(QStringList& list, const QString& path) {
  try {
    sq::load_prompts(path.toStdString());  // refuse a bad file before it joins the set
  } catch (const std::exception& e) {
    error_ = QString::fromStdString(e.what());
    Q_EMIT changed();
    return false;
  }
  if (!list.contains(path)) list.push_back(path);
  reload();
  return true;
}

bool CalibrationController::addFile(const QString& path) { return add(files_, path); }

bool CalibrationController::addEvalFile(const QString& path) { return add(eval_files_, path); }

void CalibrationController::removeFile(int index) {
  if (index < 0 || index >= files_.size()) return;
  files_.removeAt(index);
  reload();
}

void CalibrationController::removeEvalFile(int index) {
  if (index < 0 || index >= eval_files_.size()) return;
  eval_files_.removeAt(index);
  Q_EMIT changed();
}

void CalibrationController::useDemoData(const QString& zoo) {
  const QDir d(zoo + QStringLiteral("/data"));
  files_ = {d.filePath(QStringLiteral("calibration.jsonl"))};
  eval_files_ = {d.filePath(QStringLiteral("heldout_malicious.jsonl")), d.filePath(QStringLiteral("heldout_benign.jsonl")),
                 d.filePath(QStringLiteral("heldout_task.jsonl"))};
  reload();
}

std::vector<sq::Prompt> CalibrationController::evalPrompts() const { return sq::load_prompt_files(paths(eval_files_)); }

void CalibrationController::setRatio(double r) {
  ratio_ = std::clamp(r, 0.0, 1.0);
  redraw();
}

void CalibrationController::setSamples(int n) {
  samples_ = std::max(1, n);
  redraw();
}

void CalibrationController::reload() {
  error_.clear();
  std::vector<sq::Prompt> all;
  try {
    if (!files_.isEmpty()) all = sq::load_prompt_files(paths(files_));
  } catch (const std::exception& e) {
    error_ = QString::fromStdString(e.what());
  }
  std::map<std::string, std::pair<int, int>> by_source;
  malicious_ = benign_ = 0;
  for (const sq::Prompt& p : all) {
    auto& c = by_source[p.source];
    (p.label ? c.first : c.second) += 1;
    (p.label ? malicious_ : benign_) += 1;
  }
  sources_.clear();
  for (const auto& [source, c] : by_source)
    sources_.push_back(QVariantMap{{QStringLiteral("source"), QString::fromStdString(source)},
                                   {QStringLiteral("malicious"), c.first},
                                   {QStringLiteral("benign"), c.second}});
  const sq::Split split = sq::stratified_split(all);
  held_malicious_ = held_benign_ = 0;
  for (size_t i : split.test) (all[i].label ? held_malicious_ : held_benign_) += 1;
  prompts_.setPrompts(std::move(all));
  Q_EMIT changed();
  redraw();
}

void CalibrationController::redraw() {
  draw_error_.clear();
  draw_malicious_ = draw_benign_ = 0;
  draw_composition_.clear();
  try {
    const sq::CalibrationDraw draw = sq::draw_calibration(prompts(), samples_, ratio_, 0);
    for (const sq::Prompt& p : draw.prompts) (p.label ? draw_malicious_ : draw_benign_) += 1;
    for (const sq::Stratum& s : draw.composition) {
      const int pool = s.label ? malicious_ : benign_, drawn = s.label ? draw_malicious_ : draw_benign_;
      draw_composition_.push_back(QVariantMap{
          {QStringLiteral("label"), s.label ? QStringLiteral("malicious") : QStringLiteral("benign")},
          {QStringLiteral("source"), QString::fromStdString(s.source)},
          {QStringLiteral("population"), qlonglong(s.population)},
          {QStringLiteral("drawn"), qlonglong(s.drawn)},
          {QStringLiteral("poolShare"), pool ? 100.0 * double(s.population) / pool : 0.0},
          {QStringLiteral("drawShare"), drawn ? 100.0 * double(s.drawn) / drawn : 0.0}});
    }
  } catch (const std::exception& e) {
    draw_error_ = QString::fromStdString(e.what());
  }
  Q_EMIT drawChanged();
}
