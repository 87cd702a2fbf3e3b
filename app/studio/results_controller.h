#pragma once
// The Results page: every quantization run in the workspace with its evaluation (harmful score,
// over-refusal, task accuracy, perplexity), its size and time, next to the full-precision
// models; evaluating the full-precision baseline is a job of its own. And the sweeps: those in the
// workspace, the one open with its table (its Pareto chart is a ParetoChartItem), its finished runs
// listed beside the workspace's own so that the Probe and Export pages can take them.
#include <QObject>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <memory>

#include "core/workspace/workspace.h"

class CalibrationController;
class JobRunner;
class ModelsController;

class ResultsController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  // {name, method, scheme, dir, harmful, overRefusal, task, perplexity, sizeMB, seconds, baseline}
  Q_PROPERTY(QVariantList runs READ runs NOTIFY changed)
  Q_PROPERTY(QString efficacyError READ efficacyError NOTIFY changed)
  // The efficacy table `safequant efficacy` wrote for the demo zoo, as shipped (installed beside
  // the program, or in the source tree it was built from); empty when neither is there.
  Q_PROPERTY(QString shippedEfficacyTable READ shippedEfficacyTable CONSTANT)
  Q_PROPERTY(QStringList sweeps READ sweeps NOTIFY changed)
  // {dir, name, utilityName, fields, error, runs: [{name, label, status, harmful, overRefusal, task,
  // utility, sizeMB, seconds, pareto, dir (its quantization run), log}]}
  Q_PROPERTY(QVariantMap sweep READ sweep NOTIFY changed)
  // The run chosen last (on a table or the Pareto chart): where the Probe and Export pages start.
  Q_PROPERTY(QString selectedRun READ selectedRun WRITE setSelectedRun NOTIFY selectedRunChanged)

 public:
  ResultsController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent = nullptr);
  void setWorkspace(std::shared_ptr<const sq::Workspace> workspace) { workspace_ = std::move(workspace); }

  Q_INVOKABLE void reload();
  // Evaluates the full-precision target (and aligned reference) on the evaluation prompts.
  Q_INVOKABLE bool evaluateBaseline(int maxNewTokens = 32);
  // A `safequant efficacy` table (Markdown) as text; empty, with `error` set, when unreadable.
  Q_INVOKABLE QString readEfficacyTable(const QString& path);
  QVariantList runs() const { return runs_; }
  QStringList sweeps() const { return sweeps_; }
  QVariantMap sweep() const { return sweep_; }
  QString selectedRun() const { return selected_run_; }
  void setSelectedRun(const QString& dir);
  // Opens a sweep folder (one `safequant sweep` or the Quantize page made); false, with the sweep's
  // error set to the file and the problem, when it has no readable table.
  Q_INVOKABLE bool openSweep(const QString& dir);
  QString shippedEfficacyTable() const;
  QString efficacyError() const { return efficacy_error_; }

 Q_SIGNALS:
  void changed();
  void selectedRunChanged();

 private:
  ModelsController* models_;
  CalibrationController* calibration_;
  JobRunner* jobs_;
  std::shared_ptr<const sq::Workspace> workspace_;
  QString efficacy_error_;
  void readSweep();

  QVariantList runs_;
  QStringList sweeps_;
  QVariantMap sweep_;
  QString sweep_dir_, selected_run_;
};
