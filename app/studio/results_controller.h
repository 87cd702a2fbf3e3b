#pragma once
// The Results page: every quantization run in the workspace with its evaluation (harmful score,
// over-refusal, task accuracy, perplexity), its size and time, next to the full-precision
// models; evaluating the full-precision baseline is a job of its own.
#include <QObject>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <memory>

#include "core/workspace/workspace.h"

class CalibrationController;
class JobRunner;
class ModelsController;

class ResultsController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  // {name, method, scheme, dir, harmful, overRefusal, task, perplexity, sizeMB, seconds, baseline}
  Q_PROPERTY(QVariantList runs READ runs NOTIFY changed)
  Q_PROPERTY(QString efficacyError READ efficacyError NOTIFY changed)
  // The efficacy table `safequant efficacy` wrote for the demo zoo, as shipped (installed beside
  // the program, or in the source tree it was built from); empty when neither is there.
  Q_PROPERTY(QString shippedEfficacyTable READ shippedEfficacyTable CONSTANT)

 public:
  ResultsController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent = nullptr);
  void setWorkspace(std::shared_ptr<const sq::Workspace> workspace) { workspace_ = std::move(workspace); }

  Q_INVOKABLE void reload();
  // Evaluates the full-precision target (and aligned reference) on the evaluation prompts.
  Q_INVOKABLE bool evaluateBaseline(int maxNewTokens = 32);
  // A `safequant efficacy` table (Markdown) as text; empty, with `error` set, when unreadable.
  Q_INVOKABLE QString readEfficacyTable(const QString& path);
  QVariantList runs() const { return runs_; }
  QString shippedEfficacyTable() const;
  QString efficacyError() const { return efficacy_error_; }

 Q_SIGNALS:
  void changed();

 private:
  ModelsController* models_;
  CalibrationController* calibration_;
  JobRunner* jobs_;
  std::shared_ptr<const sq::Workspace> workspace_;
  QString efficacy_error_;
  QVariantList runs_;
};
