#pragma once
// The Probe page's heat map of units x options: the target's units each quantized alone at each
// weight option (core's measure_sensitivity, as `safequant sensitivity`), as a job, and the table
// read back through core's sensitivity_table.h, one metric's cells at a time.
#include <QObject>
#include <QStringList>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <memory>

#include "core/mixed/sensitivity_table.h"
#include "core/workspace/workspace.h"

class CalibrationController;
class JobRunner;
class ModelsController;

class SensitivityController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QStringList units READ units NOTIFY changed)      // "layer 0 qkv", ..., "embed"
  Q_PROPERTY(QStringList options READ options NOTIFY changed)  // scheme names, as measured
  Q_PROPERTY(QString folder READ folder NOTIFY changed)
  Q_PROPERTY(QString summary READ summary NOTIFY changed)      // what was measured on what

 public:
  SensitivityController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent = nullptr);
  void setWorkspace(std::shared_ptr<const sq::Workspace> workspace) { workspace_ = std::move(workspace); }

  // Measures the target on the calibration prompts at the default options (W8 ... W2, groups of 32).
  Q_INVOKABLE bool run();
  // Reads a sensitivity folder; false (and the map empty) when it holds none.
  Q_INVOKABLE bool load(const QString& dir);
  // One metric's cells row by row, [unit][option]: "safety" and "utility" (KL against full
  // precision), "refusal" (change of the refusals' log-probability), "bytes".
  Q_INVOKABLE QVariantList cells(const QString& metric) const;

  QStringList units() const { return units_; }
  QStringList options() const { return options_; }
  QString folder() const { return folder_; }
  QString summary() const { return summary_; }

 Q_SIGNALS:
  void changed();

 private:
  ModelsController* models_;
  CalibrationController* calibration_;
  JobRunner* jobs_;
  std::shared_ptr<const sq::Workspace> workspace_;
  sq::SensitivityTable table_;
  QStringList units_, options_;
  QString folder_, summary_;
};
