#include "app/studio/workbench.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

Workbench::Workbench(QObject* parent)
    : QObject(parent),
      results_(&models_, &calibration_, &jobs_),
      probe_(&models_, &calibration_, &jobs_),
      sensitivity_(&models_, &calibration_, &jobs_),
      quantize_(&models_, &calibration_, &results_, &jobs_),
      export_(&models_, &jobs_) {
  QString ws = qEnvironmentVariable("SAFEQUANT_WORKSPACE");
  if (ws.isEmpty()) ws = QDir::homePath() + QStringLiteral("/.cache/safequant/workspace");
  setWorkspace(ws);
  connect(&models_, &ModelsController::demoLoaded, this, [this](const QString& zoo) {
    calibration_.useDemoData(zoo);
    results_.reload();
    probe_.load(QString::fromStdString(workspace_->probe_dir(false)));
    sensitivity_.load(QString::fromStdString(workspace_->sensitivity_dir()));
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
  std::shared_ptr<const sq::Workspace>& ws = workspace_;
  try {
    ws = std::make_shared<const sq::Workspace>(QDir::cleanPath(dir).toStdString());
  } catch (const std::exception& e) {  // the studio still opens; jobs then fail naming the folder
    qWarning("%s", e.what());
    ws = std::make_shared<const sq::Workspace>((QDir::tempPath() + QStringLiteral("/safequant-workspace")).toStdString());
  }
  results_.setWorkspace(ws);
  probe_.setWorkspace(ws);
  sensitivity_.setWorkspace(ws);
  quantize_.setWorkspace(ws);
  Q_EMIT workspaceChanged();
}
