#pragma once
// The Calibration page's state: the prompt files for calibration and probing, and those the
// results are evaluated on; counts per label and source; the calibration ratio and sample
// count with the malicious / benign numbers the draw gives and its make-up by source; the probe's
// held-out split.
#include <QObject>
#include <QStringList>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include "app/studio/prompt_list_model.h"

class CalibrationController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QStringList files READ files NOTIFY changed)
  Q_PROPERTY(QStringList evalFiles READ evalFiles NOTIFY changed)
  Q_PROPERTY(QVariantList sources READ sources NOTIFY changed)  // {source, malicious, benign}
  Q_PROPERTY(int malicious READ malicious NOTIFY changed)
  Q_PROPERTY(int benign READ benign NOTIFY changed)
  Q_PROPERTY(double ratio READ ratio WRITE setRatio NOTIFY drawChanged)
  Q_PROPERTY(int samples READ samples WRITE setSamples NOTIFY drawChanged)
  Q_PROPERTY(int drawMalicious READ drawMalicious NOTIFY drawChanged)
  Q_PROPERTY(int drawBenign READ drawBenign NOTIFY drawChanged)
  Q_PROPERTY(QString drawError READ drawError NOTIFY drawChanged)
  // Per (label, source) of the draw: {label, source, population, drawn, poolShare, drawShare}, the
  // shares being of the label's pool and of the label's draw, in percent.
  Q_PROPERTY(QVariantList drawComposition READ drawComposition NOTIFY drawChanged)
  Q_PROPERTY(int heldOutMalicious READ heldOutMalicious NOTIFY changed)
  Q_PROPERTY(int heldOutBenign READ heldOutBenign NOTIFY changed)
  Q_PROPERTY(QString error READ error NOTIFY changed)
  Q_PROPERTY(PromptListModel* prompts READ promptModel CONSTANT)

 public:
  explicit CalibrationController(QObject* parent = nullptr);

  Q_INVOKABLE bool addFile(const QString& path);
  Q_INVOKABLE void removeFile(int index);
  Q_INVOKABLE bool addEvalFile(const QString& path);
  Q_INVOKABLE void removeEvalFile(int index);
  // The demo zoo's prompt sets: calibration.jsonl to calibrate and probe, the held-out sets to evaluate.
  Q_INVOKABLE void useDemoData(const QString& zooDir);

  QStringList files() const { return files_; }
  QStringList evalFiles() const { return eval_files_; }
  QVariantList sources() const { return sources_; }
  int malicious() const { return malicious_; }
  int benign() const { return benign_; }
  double ratio() const { return ratio_; }
  void setRatio(double r);
  int samples() const { return samples_; }
  void setSamples(int n);
  int drawMalicious() const { return draw_malicious_; }
  int drawBenign() const { return draw_benign_; }
  QString drawError() const { return draw_error_; }
  QVariantList drawComposition() const { return draw_composition_; }
  int heldOutMalicious() const { return held_malicious_; }
  int heldOutBenign() const { return held_benign_; }
  QString error() const { return error_; }
  PromptListModel* promptModel() { return &prompts_; }

  const std::vector<sq::Prompt>& prompts() const { return prompts_.prompts(); }
  std::vector<sq::Prompt> evalPrompts() const;  // throws sq::Error naming the file

 Q_SIGNALS:
  void changed();
  void drawChanged();

 private:
  bool add(QStringList& list, const QString& path);
  void reload();
  void redraw();

  QStringList files_, eval_files_;
  QVariantList sources_, draw_composition_;
  PromptListModel prompts_;
  int malicious_ = 0, benign_ = 0, held_malicious_ = 0, held_benign_ = 0;
  double ratio_ = 0.75;
  int samples_ = 200, draw_malicious_ = 0, draw_benign_ = 0;
  QString error_, draw_error_;
};
