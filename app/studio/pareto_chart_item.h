#pragma once
// The Results page's Pareto chart: the same chart safequant-chart writes (app/charts), painted
// live, with the run under the pointer described and a click choosing that run.
#include <QQuickPaintedItem>
#include <QString>
#include <QtQml/qqmlregistration.h>
#include <memory>

class ParetoChart;

class ParetoChartItem : public QQuickPaintedItem {
  Q_OBJECT
  QML_ELEMENT
  Q_PROPERTY(QString sweepDir READ sweepDir WRITE setSweepDir NOTIFY sweepChanged)
  Q_PROPERTY(QString error READ error NOTIFY sweepChanged)
  // The run under the pointer: its settings and figures, empty when none is.
  Q_PROPERTY(QString hoverText READ hoverText NOTIFY hoverChanged)
  Q_PROPERTY(QPointF hoverPosition READ hoverPosition NOTIFY hoverChanged)

 public:
  explicit ParetoChartItem(QQuickItem* parent = nullptr);
  ~ParetoChartItem() override;

  QString sweepDir() const { return dir_; }
  void setSweepDir(const QString& dir);
  QString error() const { return error_; }
  QString hoverText() const { return hover_text_; }
  QPointF hoverPosition() const { return hover_pos_; }
  // Where run `index`'s marker is, in this item's pixels (tests and tooltips).
  Q_INVOKABLE QPointF markerPosition(int index) const;
  // Re-reads the sweep's table (after a run finished).
  Q_INVOKABLE void reload();

  void paint(QPainter* painter) override;

 Q_SIGNALS:
  void sweepChanged();
  void hoverChanged();
  // A click on a run's marker: its index in the table and its quantization run folder.
  void runClicked(int index, const QString& quantRun);

 protected:
  void geometryChange(const QRectF& now, const QRectF& before) override;
  void hoverMoveEvent(QHoverEvent* event) override;
  void hoverLeaveEvent(QHoverEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  void hover(int run, const QPointF& at);

  QString dir_, error_, hover_text_;
  QPointF hover_pos_;
  int hovered_ = -1;
  std::unique_ptr<ParetoChart> chart_;
};
