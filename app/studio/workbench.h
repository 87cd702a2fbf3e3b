#pragma once
// The workbench as the views see it: one object (QML singleton `Workbench`) holding the page
// controllers, the one job runner they share (one long job at a time) and the workspace folder
// where probes, quantization runs, evaluations and exports are kept between sessions.
#include <QObject>
#include <QString>
#include <QtQml/qqmlregistration.h>

#include "app/studio/calibration_controller.h"
#include "app/studio/export_controller.h"
#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "app/studio/probe_controller.h"
#include "app/studio/quantize_controller.h"
#include "app/studio/results_controller.h"
#include "app/studio/sensitivity_controller.h"

class Workbench : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_SINGLETON
  Q_PROPERTY(ModelsController* models READ models CONSTANT)
  Q_PROPERTY(CalibrationController* calibration READ calibration CONSTANT)
  Q_PROPERTY(ProbeController* probe READ probe CONSTANT)
  Q_PROPERTY(SensitivityController* sensitivity READ sensitivity CONSTANT)
  Q_PROPERTY(QuantizeController* quantize READ quantize CONSTANT)
  Q_PROPERTY(ResultsController* results READ results CONSTANT)
  Q_PROPERTY(ExportController* exporter READ exporter CONSTANT)
  Q_PROPERTY(JobRunner* jobs READ jobs CONSTANT)
  Q_PROPERTY(QString workspace READ workspace NOTIFY workspaceChanged)

 public:
  // The workspace: $SAFEQUANT_WORKSPACE, else ~/.cache/safequant/workspace. With $SAFEQUANT_ZOO
  // set, the demo models are loaded at once.
  explicit Workbench(QObject* parent = nullptr);
  // Quitting during a job cancels it and waits for it before the controllers it calls go away.
  ~Workbench() override { jobs_.shutdown(); }

  ModelsController* models() { return &models_; }
  CalibrationController* calibration() { return &calibration_; }
  ProbeController* probe() { return &probe_; }
  SensitivityController* sensitivity() { return &sensitivity_; }
  QuantizeController* quantize() { return &quantize_; }
  ResultsController* results() { return &results_; }
  ExportController* exporter() { return &export_; }
  JobRunner* jobs() { return &jobs_; }
  QString workspace() const { return QString::fromStdString(workspace_->dir()); }
  Q_INVOKABLE void setWorkspace(const QString& dir);

 Q_SIGNALS:
  void workspaceChanged();

 private:
  std::shared_ptr<const sq::Workspace> workspace_;
  JobRunner jobs_;
  ModelsController models_;
  CalibrationController calibration_;
  ResultsController results_;
  ProbeController probe_;
  SensitivityController sensitivity_;
  QuantizeController quantize_;
  ExportController export_;
};
