#pragma once
// The Models page's state: which folder plays which role (target = the model to quantize,
// aligned = the full-precision aligned reference, base = its unaligned pre-trained base for AAQ,
// judge = a safety judge in Llama Guard 3's format that evaluations run beside the refusal phrases)
// and what each holds, read from its config.json, tokenizer.json and weights; loading errors are
// kept per role with the file and the reason. Recent folders are remembered (QSettings), and so
// is the device the models compute on.
#include <QObject>
#include <QStringList>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include "core/run/device.h"

class ModelsController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QVariantList models READ models NOTIFY changed)  // one entry per role, in role order
  Q_PROPERTY(QString target READ target NOTIFY changed)
  Q_PROPERTY(QString aligned READ aligned NOTIFY changed)
  Q_PROPERTY(QString base READ base NOTIFY changed)
  Q_PROPERTY(QString judge READ judge NOTIFY changed)
  Q_PROPERTY(QString zooDir READ zooDir NOTIFY changed)
  Q_PROPERTY(QStringList recent READ recent NOTIFY changed)
  // The devices this build can compute on here ("cpu", "cuda:0", …), the one chosen, and why
  // there is no CUDA device when there is none.
  Q_PROPERTY(QStringList devices READ devices CONSTANT)
  Q_PROPERTY(QString device READ device WRITE setDevice NOTIFY deviceChanged)
  Q_PROPERTY(QString cudaNote READ cudaNote CONSTANT)

 public:
  explicit ModelsController(QObject* parent = nullptr);

  // role: "target", "aligned", "base" or "judge"; path: a model folder (or .gguf file). Returns whether it loaded.
  Q_INVOKABLE bool setModel(const QString& role, const QString& path);
  Q_INVOKABLE void clear(const QString& role);
  // The demo models: $SAFEQUANT_ZOO, else the cached demo zoo, and its demo judge when it has one.
  // Emits demoLoaded(zoo folder).
  Q_INVOKABLE bool useDemoModels();

  QVariantList models() const;
  QString target() const { return paths_[0]; }
  QString aligned() const { return paths_[1]; }
  QString base() const { return paths_[2]; }
  QString judge() const { return paths_[3]; }
  QString zooDir() const { return zoo_; }
  QStringList recent() const { return recent_; }
  QStringList devices() const;
  QString device() const;
  void setDevice(const QString& name);
  QString cudaNote() const;
  // Where the jobs started now load their models.
  sq::ComputeDevice computeDevice() const { return device_; }
  static QStringList roles();

 Q_SIGNALS:
  void changed();
  void demoLoaded(const QString& zooDir);
  void deviceChanged();

 private:
  static constexpr int kRoles = 4;
  QString paths_[kRoles];
  QVariantMap infos_[kRoles];
  QString zoo_;
  QStringList recent_;
  sq::ComputeDevice device_;
};
