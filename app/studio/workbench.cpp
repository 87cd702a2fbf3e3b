#include "app/studio/workbench.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
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
    // The newest run's training curve on the Quantize page, until a new run starts.
    QString newest;
    QDateTime when;
    for (const QVariant& r : results_.runs()) {
      const QString dir = r.toMap().value(QStringLiteral("dir")).toString();
      const QDateTime t = QFileInfo(dir + QStringLiteral("/run.json")).lastModified();
      if (!r.toMap().value(QStringLiteral("baseline")).toBool() && (newest.isEmpty() || t > when)) newest = dir, when = t;
    }
    if (!newest.isEmpty()) quantize_.showRun(newest);
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
