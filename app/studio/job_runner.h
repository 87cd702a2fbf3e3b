#pragma once
// Long work off the GUI thread: one job at a time on a worker thread, its progress, ETA, errors
// and end delivered back as signals on the GUI thread; cancel() asks the job to stop at its
// next progress step; destruction cancels and joins, so quitting during a job ends it cleanly.
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QtQml/qqmlregistration.h>

#include <functional>
#include <memory>
#include <thread>

#include "core/run/progress.h"

class JobRunner : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
  Q_PROPERTY(QString job READ job NOTIFY busyChanged)
  Q_PROPERTY(double progress READ progress NOTIFY progressChanged)  // 0..1; -1 while unknown
  Q_PROPERTY(QString stage READ stage NOTIFY progressChanged)
  Q_PROPERTY(QString eta READ eta NOTIFY progressChanged)
  Q_PROPERTY(QString error READ error NOTIFY errorChanged)

 public:
  // Runs on the worker thread; returns what to do on the GUI thread once it succeeded.
  using Work = std::function<std::function<void()>(const sq::Progress&)>;

  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;

  // False (and nothing started) while another job runs.
  bool start(const QString& name, Work work);
  Q_INVOKABLE void cancel();
  // Cancels the job and waits for its thread, without delivering anything (for owners that are
  // going away: the job's callbacks may point into them).
  void shutdown();
  // Blocks until the current job (if any) has ended and its results were delivered (tests).
  bool waitForIdle(int timeoutMs);

  bool busy() const { return busy_; }
  QString job() const { return job_; }
  double progress() const { return progress_; }
  QString stage() const { return stage_; }
  QString eta() const { return eta_; }
  QString error() const { return error_; }

 Q_SIGNALS:
  void busyChanged();
  void progressChanged();
  void errorChanged();
  void finished(const QString& job, bool ok);

 private:
  void report(int64_t done, int64_t total, const std::string& stage);
  void end(std::function<void()> then, const QString& error);

  std::thread worker_;
  std::unique_ptr<sq::CancelToken> cancel_;
  QElapsedTimer clock_;
  bool busy_ = false;
  QString job_, stage_, eta_, error_;
  double progress_ = -1;
};
