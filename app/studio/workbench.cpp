#include "app/studio/workbench.h"

#include <QDir>
#include <QStandardPaths>

Workbench::Workbench(QObject* parent)
    : QObject(parent),
      results_(&models_, &calibration_, &jobs_),
      probe_(&models_, &calibration_, &jobs_),
      quantize_(&models_, &calibration_, &results_, &jobs_),
      export_(&models_, &jobs_) {
  QString ws = qEnvironmentVariable("SAFEQUANT_WORKSPACE");
  if (ws.isEmpty()) ws = QDir::homePath() + QStringLiteral("/.cache/safequant/workspace");
  setWorkspace(ws);
  connect(&models_, &ModelsController::demoLoaded, this, [this](const QString& zoo) {
    calibration_.useDemoData(zoo);
    results_.reload();
    probe_.load(workspace_ + QStringLiteral("/probe"));
  });
  if (!qEnvironmentVariable("SAFEQUANT_ZOO").isEmpty()) models_.useDemoModels();
}

void Workbench::setWorkspace(const QString& dir) {
  workspace_ = QDir::cleanPath(dir);
  QDir().mkpath(workspace_);
  results_.setWorkspace(workspace_);
  probe_.setWorkspace(workspace_);
  quantize_.setWorkspace(workspace_);
  Q_EMIT workspaceChanged();
}
