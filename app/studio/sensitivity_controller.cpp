#include "app/studio/sensitivity_controller.h"

#include "app/studio/calibration_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "core/mixed/sensitivity.h"

SensitivityController::SensitivityController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), calibration_(calibration), jobs_(jobs) {}

bool SensitivityController::run() {
  const std::string target = models_->target().toStdString();
  sq::SensitivityOptions o;
  o.prompts = calibration_->prompts();
  o.device = models_->computeDevice();
  const QString out = QString::fromStdString(workspace_->sensitivity_dir());
  return jobs_->start(QStringLiteral("sensitivity"), [=](const sq::Progress& progress) mutable -> std::function<void()> {
    if (target.empty()) throw std::runtime_error("choose a target model first (Models page)");
    if (o.prompts.empty()) throw std::runtime_error("add labelled prompt files first (Calibration page)");
    o.progress = progress;
    sq::write_sensitivity(out.toStdString(), sq::measure_sensitivity(target, o));
    return [this, out] { load(out); };
  });
}

bool SensitivityController::load(const QString& dir) {
  table_ = {};
  units_.clear();
  options_.clear();
  folder_.clear();
  summary_.clear();
  try {
    table_ = sq::read_sensitivity(dir.toStdString());
  } catch (const std::exception&) {  // none yet, or not a table: the map stays empty
    Q_EMIT changed();
    return false;
  }
  folder_ = dir;
  for (const sq::SensitivityUnit& u : table_.units) units_.push_back(QString::fromStdString(u.name()));
  for (const std::string& o : table_.options) options_.push_back(QString::fromStdString(o));
  summary_ = tr("%1: %2 malicious prompts (%3 refused) and %4 benign, the first %5 reply tokens; %6")
                 .arg(QString::fromStdString(table_.model))
                 .arg(table_.malicious)
                 .arg(table_.refused)
                 .arg(table_.benign)
                 .arg(table_.response_tokens)
                 .arg(QString::fromStdString(table_.cpu));
  Q_EMIT changed();
  return true;
}

QVariantList SensitivityController::cells(const QString& metric) const {
  QVariantList rows;
  for (const std::vector<sq::SensitivityCell>& unit : table_.cells) {
    QVariantList row;
    for (const sq::SensitivityCell& c : unit)
      row.push_back(metric == QLatin1String("utility")   ? c.utility_kl
                    : metric == QLatin1String("refusal") ? c.refusal_change
                    : metric == QLatin1String("bytes")   ? c.bytes
                                                         : c.safety_kl);
    rows.push_back(row);
  }
  return rows;
}
