#pragma once
// Build and machine facts for the views' status line.
#include <QObject>
#include <QString>
#include <QtQml/qqmlregistration.h>

class AppInfo : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_SINGLETON
  Q_PROPERTY(QString version READ version CONSTANT)
  Q_PROPERTY(QString torchVersion READ torchVersion CONSTANT)
  Q_PROPERTY(int threads READ threads CONSTANT)
  Q_PROPERTY(QString cuda READ cuda CONSTANT)

 public:
  explicit AppInfo(QObject* parent = nullptr);
  QString version() const { return version_; }
  QString torchVersion() const { return torch_; }
  int threads() const { return threads_; }
  QString cuda() const { return cuda_; }

 private:
  QString version_, torch_, cuda_;
  int threads_ = 1;
};
