#pragma once
// The Pareto chart of a sweep (core/experiment/sweep_table.h): harmful score (x, lower is safer)
// against the utility each run keeps (y), one marker per finished run, one series per quantized
// size (the third dimension: bigger markers for bigger models), the non-dominated runs ringed,
// joined and named. One builder serves both the PNG and SVG files safequant-chart writes without
// a display and the Results page's interactive chart.
#include <QPointF>
#include <QSize>
#include <QString>
#include <memory>
#include <vector>

#include "core/experiment/sweep_table.h"

class QChart;
class QGraphicsScene;
class QPainter;

class ParetoChart {
 public:
  explicit ParetoChart(sq::SweepTable table);
  ~ParetoChart();

  // Lays the chart out at `size` pixels (the run names follow their markers).
  void resize(const QSizeF& size);
  void render(QPainter* painter);
  // The run (index into the table's runs) whose marker is nearest `pos`, in pixels of the laid-out
  // chart, within `radius`; -1 when none is.
  int runAt(const QPointF& pos, qreal radius = 10) const;
  // Where run `index`'s marker is in the laid-out chart; (-1, -1) for a run without one.
  QPointF positionOf(int index) const;
  const sq::SweepTable& table() const { return table_; }

  // A run's swept values, short: "q-realign · 0.5 · w4a4".
  static QString label(const sq::SweepTableRow& row);
  // Writes the chart of `table` as a PNG and an SVG of `size` pixels, each atomically; sq::Error
  // names a file that cannot be written.
  static void write(const sq::SweepTable& table, const QString& png, const QString& svg, QSize size = {960, 640});

 private:
  sq::SweepTable table_;
  std::unique_ptr<QGraphicsScene> scene_;  // owns the chart and its labels
  QChart* chart_ = nullptr;
  struct Marker {
    int run;
    QPointF value;
  };
  std::vector<Marker> markers_;
  void place_labels();
};
