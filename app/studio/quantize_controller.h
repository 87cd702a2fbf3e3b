#pragma once
// The Quantize page: one quantization run of the target model with the chosen method and
// scheme, calibrated on the Calibration page's draw, then evaluated on the evaluation prompts;
// progress per layer with ETA, the training loss as it goes, and the run in Results when done.
#include <QObject>
#include <QVariantList>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

#include <memory>

#include "core/workspace/workspace.h"

class CalibrationController;
class JobRunner;
class ModelsController;
class ResultsController;

class QuantizeController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QVariantList loss READ loss NOTIFY lossChanged)  // {series, step, value}, in arrival order
  Q_PROPERTY(QString lastRun READ lastRun NOTIFY lastRunChanged)
  Q_PROPERTY(QStringList schemes READ schemes CONSTANT)
  // {name, title, summary, calibrated, needsAligned, needsBase, and the defaults rotate, epochs,
  // lambda}, in core's order (quant_method.h)
  Q_PROPERTY(QVariantList methods READ methods CONSTANT)
  Q_PROPERTY(int recommendedMethod READ recommendedMethod CONSTANT)  // index in methods
  Q_PROPERTY(QString sweepError READ sweepError NOTIFY sweepErrorChanged)

 public:
  QuantizeController(ModelsController* models, CalibrationController* calibration, ResultsController* results, JobRunner* jobs,
                     QObject* parent = nullptr);
  void setWorkspace(std::shared_ptr<const sq::Workspace> workspace) { workspace_ = std::move(workspace); }

  // settings: method, scheme (a preset or custom "w4a16-g64-sym"), samples, ratio, lambda,
  // epochs, seed, rotate, system (a system message, empty: none), evaluate (default true), maxNew
  // (default 32); mixedBits (above 0: mixed precision instead of the scheme, allocated for safety
  // within that many bits per weight from the workspace's sensitivity table, as `quantize --mixed`).
  // False when it cannot start.
  Q_INVOKABLE bool start(const QVariantMap& settings);
  // Shows a finished run's training curve (from its run.json) until the next run starts.
  Q_INVOKABLE void showRun(const QString& runDir);
  // The reason start() would refuse these settings now, or empty.
  Q_INVOKABLE QString check(const QVariantMap& settings) const;
  // A small sweep: the settings' method with every calibration ratio in `ratios` and every scheme
  // in `schemes` (a grid), written as a `safequant sweep` config under the workspace's sweeps/ and
  // made run by run as one job (progress per run; cancelling stops after the layer at hand). Each
  // run is evaluated on the evaluation prompts, which it needs. When done, Results opens the
  // sweep. False, with sweepError set, when it cannot start.
  Q_INVOKABLE bool startSweep(const QVariantMap& settings, const QVariantList& ratios, const QStringList& schemes);

  QVariantList loss() const { return loss_; }
  QString lastRun() const { return last_run_; }
  QStringList schemes() const;
  QVariantList methods() const;
  int recommendedMethod() const;
  QString sweepError() const { return sweep_error_; }

 Q_SIGNALS:
  void lossChanged();
  void lastRunChanged();
  void finished();  // a run started here is done and evaluated
  void sweepErrorChanged();

 private:
  static double mixed_bits(const QVariantMap& settings);
  bool has_sensitivity() const;  // the workspace holds the target's sensitivity table

  ModelsController* models_;
  CalibrationController* calibration_;
  ResultsController* results_;
  JobRunner* jobs_;
  std::shared_ptr<const sq::Workspace> workspace_;
  QString last_run_, sweep_error_;
  QVariantList loss_;
};
