#pragma once
// The Export page: what each format means for the selected run (allowed, exact, notes) and a
// one-click export as a job, with the written folder's path, size and manifest.
#include <QObject>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

class JobRunner;
class ModelsController;

class ExportController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QString resultPath READ resultPath NOTIFY exported)
  Q_PROPERTY(double resultSizeMB READ resultSizeMB NOTIFY exported)
  Q_PROPERTY(QString manifest READ manifest NOTIFY exported)

 public:
  ExportController(ModelsController* models, JobRunner* jobs, QObject* parent = nullptr);

  // {format, allowed, exact, note} for the target model and the run (empty: full precision).
  Q_INVOKABLE QVariantList checks(const QString& runDir) const;
  // The run's model folder (from run.json), or the target model when there is no run.
  Q_INVOKABLE QString modelOf(const QString& runDir) const;
  Q_INVOKABLE bool exportRun(const QString& runDir, const QString& format, const QString& outDir);
  Q_INVOKABLE QString defaultOutDir(const QString& runDir, const QString& format) const;

  QString resultPath() const { return result_path_; }
  double resultSizeMB() const { return result_mb_; }
  QString manifest() const { return manifest_; }

 Q_SIGNALS:
  void exported();

 private:
  ModelsController* models_;
  JobRunner* jobs_;
  QString result_path_, manifest_;
  double result_mb_ = 0;
};
