#pragma once
// The Probe and Projection pages: capture + SLR per layer on the target model (and, with a
// quantization run, the same probes and 2D bases applied to the quantized model), as a job;
// per-layer figures for the chart and the projected points for the scatter plots, read back
// from the probe folder the core writes (probe.json, comparison.json, projection.json).
#include <QObject>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <nlohmann/json.hpp>

class CalibrationController;
class JobRunner;
class ModelsController;

class ProbeController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QVariantList layers READ layers NOTIFY changed)  // {layer, accuracy, margin, auc, nonzero[, cvAccuracy, cvAccuracyStd, cvAuc, cvAucStd][, qAccuracy, qMargin, qAuc]}
  Q_PROPERTY(bool hasQuantized READ hasQuantized NOTIFY changed)
  Q_PROPERTY(QString quantRun READ quantRun NOTIFY changed)
  Q_PROPERTY(QString folder READ folder NOTIFY changed)
  Q_PROPERTY(QStringList methods READ methods NOTIFY changed)  // pca, probe_plane[, tsne]
  Q_PROPERTY(int selectedLayer READ selectedLayer WRITE setSelectedLayer NOTIFY selectedLayerChanged)

 public:
  ProbeController(ModelsController* models, CalibrationController* calibration, JobRunner* jobs, QObject* parent = nullptr);
  void setWorkspace(const QString& dir) { workspace_ = dir; }

  // Probes the target model on the calibration prompts; with `quantRun`, compares that run.
  Q_INVOKABLE bool run(const QString& quantRun = QString(), bool tsne = false);
  // Reads a probe folder; false (and the page empty) when it holds none.
  Q_INVOKABLE bool load(const QString& dir);
  // Points of one layer: {x, y, label (1 malicious), id, split}.
  Q_INVOKABLE QVariantList points(int layer, const QString& method, bool quantized) const;
  // Fills two chart series (Qt Charts XY series) with one layer's benign and malicious points in
  // one replace each: appending point by point from QML redraws per point, which is quadratic
  // and takes seconds at a few thousand points. Returns the points' bounding box {x0, x1, y0, y1}.
  Q_INVOKABLE QVariantMap fillSeries(QObject* benign, QObject* malicious, int layer, const QString& method, bool quantized) const;
  // Coordinates of every layer and method, as CSV (by extension) or JSON.
  Q_INVOKABLE bool exportCoordinates(const QString& path) const;

  QVariantList layers() const { return layers_; }
  bool hasQuantized() const { return has_quantized_; }
  QString quantRun() const { return quant_run_; }
  QString folder() const { return folder_; }
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
  QString workspace_, folder_, quant_run_;
  QVariantList layers_;
  QStringList methods_;
  bool has_quantized_ = false;
  int selected_ = 0;
  nlohmann::json projection_;
};
