#pragma once
// The Probe and Projection pages: capture + SLR per layer on a reference model, and the same
// probes and 2D bases applied to compared models (the target under a quantization run; or, with
// the aligned model as the reference, the target and the target under the run: drift and
// realignment in one basis), as a job; per-layer figures for the chart and the projected points
// for the scatter plots, read back through core's probe folder types (probe_folder.h).
#include <QObject>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <memory>

#include "core/workspace/workspace.h"

#include "core/probe/probe_folder.h"

class CalibrationController;
class JobRunner;
class ModelsController;

class ProbeController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  // {layer, accuracy, margin, auc, nonzero[, cvAccuracy, cvAccuracyStd, cvAuc, cvAucStd], compared: [{accuracy, margin, auc, maliciousSide}]}
  Q_PROPERTY(QVariantList layers READ layers NOTIFY changed)
  Q_PROPERTY(QString reference READ reference NOTIFY changed)  // the model the probes were fitted on
  Q_PROPERTY(QVariantList compared READ compared NOTIFY changed)  // {label, model, quantRun}, in order
  Q_PROPERTY(QString folder READ folder NOTIFY changed)
  Q_PROPERTY(QString note READ note NOTIFY changed)  // what the probe had to change (prompts cut to the context), or empty
  Q_PROPERTY(QStringList methods READ methods NOTIFY changed)  // pca, probe_plane[, tsne]
  Q_PROPERTY(int selectedLayer READ selectedLayer WRITE setSelectedLayer NOTIFY selectedLayerChanged)

 public:
  ProbeController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent = nullptr);
  void setWorkspace(std::shared_ptr<const sq::Workspace> workspace) { workspace_ = std::move(workspace); }

  // Probes on the calibration prompts. The reference is the target model, compared with itself
  // under `quantRun` when one is given; or, with `fromAligned`, the aligned model, compared with
  // the target (its drift) and with the target under `quantRun` (its realignment).
  Q_INVOKABLE bool run(const QString& quantRun = QString(), bool tsne = false, bool fromAligned = false);
  // Reads a probe folder; false (and the page empty) when it holds none.
  Q_INVOKABLE bool load(const QString& dir);
  // Points of one layer: {x, y, label (1 malicious), id, split}; compared -1: the reference's.
  Q_INVOKABLE QVariantList points(int layer, const QString& method, int compared) const;
  // Fills two chart series (Qt Charts XY series) with one layer's benign and malicious points in
  // one replace each: appending point by point from QML redraws per point, which is quadratic
  // and takes seconds at a few thousand points. Returns the points' bounding box {x0, x1, y0, y1}.
  Q_INVOKABLE QVariantMap fillSeries(QObject* benign, QObject* malicious, int layer, const QString& method, int compared) const;
  // Coordinates of every layer and method, as CSV (by extension) or JSON.
  Q_INVOKABLE bool exportCoordinates(const QString& path) const;

  QVariantList layers() const { return layers_; }
  QString reference() const { return reference_; }
  QVariantList compared() const { return compared_; }
  QString folder() const { return folder_; }
  QString note() const { return note_; }
  QStringList methods() const { return methods_; }
  int selectedLayer() const { return selected_; }
  void setSelectedLayer(int layer);

 Q_SIGNALS:
  void changed();
  void selectedLayerChanged();

 private:
  ModelsController* models_;
  CalibrationController* calibration_;
  JobRunner* jobs_;
  // One layer's points of the reference (compared -1) or of a compared model, if present.
  const sq::Projection::Points* layer_points(int layer, const QString& method, int compared) const;

  std::shared_ptr<const sq::Workspace> workspace_;
  QString folder_, reference_, note_;
  QVariantList layers_, compared_;
  QStringList methods_;
  int selected_ = 0;
  sq::Projection projection_;
};
