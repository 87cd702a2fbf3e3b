#include "app/studio/job_runner.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QMetaObject>

#include "core/error.h"

JobRunner::JobRunner(QObject* parent) : QObject(parent) {}

JobRunner::~JobRunner() { shutdown(); }

void JobRunner::shutdown() {
  if (cancel_) cancel_->cancel();
  if (worker_.joinable()) worker_.join();
}

bool JobRunner::start(const QString& name, Work work) {
  if (busy_) return false;
  if (worker_.joinable()) worker_.join();
  cancel_ = std::make_unique<sq::CancelToken>();
  busy_ = true;
  job_ = name;
  progress_ = -1;
  stage_ = QStringLiteral("starting");
  eta_.clear();
  error_.clear();
  clock_.start();
  Q_EMIT errorChanged();
  Q_EMIT busyChanged();
  Q_EMIT progressChanged();
  sq::Progress progress;
  progress.cancel = cancel_.get();
  progress.report = [this](int64_t done, int64_t total, const std::string& stage) { report(done, total, stage); };
  worker_ = std::thread([this, work = std::move(work), progress] {
    std::function<void()> then;
    QString error;
    try {
      then = work(progress);
    } catch (const sq::Cancelled&) {
      error = QStringLiteral("cancelled");
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    }
    QMetaObject::invokeMethod(this, [this, then, error] { end(then, error); }, Qt::QueuedConnection);
  });
  return true;
}

void JobRunner::cancel() {
  if (cancel_) cancel_->cancel();
}

bool JobRunner::waitForIdle(int timeoutMs) {
  QDeadlineTimer deadline(timeoutMs);
  while (busy_ && !deadline.hasExpired()) QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
  return !busy_;
}

void JobRunner::report(int64_t done, int64_t total, const std::string& stage) {
  const double elapsed = double(clock_.elapsed()) / 1000.0;
  QMetaObject::invokeMethod(
      this,
      [this, done, total, stage = QString::fromStdString(stage), elapsed] {
        progress_ = total > 0 ? double(done) / double(total) : -1;
        stage_ = total > 0 ? QStringLiteral("%1 %2/%3").arg(stage).arg(done).arg(total) : stage;
        eta_ = total > 0 && done > 0 && done < total
                   ? QStringLiteral("about %1 s left").arg(qRound(elapsed * double(total - done) / double(done)))
                   : QString();
        Q_EMIT progressChanged();
      },
      Qt::QueuedConnection);
}

void JobRunner::end(std::function<void()> then, const QString& error) {
  if (then) {
    try {
      then();
    } catch (const std::exception& e) {
      error_ = QString::fromStdString(e.what());
    }
  }
  if (!error.isEmpty()) error_ = error;
  busy_ = false;
  progress_ = error_.isEmpty() ? 1 : progress_;
  Q_EMIT errorChanged();
  Q_EMIT progressChanged();
  Q_EMIT busyChanged();
  Q_EMIT finished(job_, error_.isEmpty());
}
