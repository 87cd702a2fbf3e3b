#include "app/studio/pareto_chart_item.h"

#include <QMouseEvent>
#include <QPainter>
#include <filesystem>

#include "app/charts/pareto_chart.h"

ParetoChartItem::ParetoChartItem(QQuickItem* parent) : QQuickPaintedItem(parent) {
  setAcceptHoverEvents(true);
  setAcceptedMouseButtons(Qt::LeftButton);
  setAntialiasing(true);
}

ParetoChartItem::~ParetoChartItem() = default;

void ParetoChartItem::setSweepDir(const QString& dir) {
  if (dir == dir_ && chart_) return;
  dir_ = dir;
  reload();
}

void ParetoChartItem::reload() {
  chart_.reset();
  error_.clear();
  if (!dir_.isEmpty()) {
    try {
      chart_ = std::make_unique<ParetoChart>(sq::read_sweep_table(dir_.toStdString()));
      if (width() > 0 && height() > 0) chart_->resize(size());
    } catch (const std::exception& e) {
      error_ = QString::fromUtf8(e.what());
    }
  }
  hover(-1, {});
  Q_EMIT sweepChanged();
  update();
}

QPointF ParetoChartItem::markerPosition(int index) const { return chart_ ? chart_->positionOf(index) : QPointF(-1, -1); }

void ParetoChartItem::paint(QPainter* painter) {
  if (chart_) chart_->render(painter);
}

void ParetoChartItem::geometryChange(const QRectF& now, const QRectF& before) {
  QQuickPaintedItem::geometryChange(now, before);
  if (chart_ && now.size() != before.size() && now.width() > 0 && now.height() > 0) {
    chart_->resize(now.size());
    update();
  }
}

void ParetoChartItem::hover(int run, const QPointF& at) {
  if (run == hovered_ && run < 0) return;
  hovered_ = run;
  hover_pos_ = at;
  hover_text_.clear();
  if (chart_ && run >= 0) {
    const sq::SweepTableRow& r = chart_->table().runs[size_t(run)];
    hover_text_ = QString::fromStdString(r.name) +
                  tr("\n%1 %2 % · %3 %4 % · %5 MB\nclick to choose it for the Probe and Export pages")
                      .arg(r.judged_harmful_score ? tr("judged harmful") : tr("harmful"))
                      .arg(*sq::sweep_harmful(r), 0, 'f', 1)
                      .arg(QString::fromStdString(sq::sweep_utility_name(chart_->table())).section(QLatin1Char(' '), 0, -2))
                      .arg(*sq::sweep_utility(r), 0, 'f', 1)
                      .arg(r.model_mb, 0, 'f', 2);
    if (r.pareto) hover_text_ += tr("\non the Pareto front");
  }
  Q_EMIT hoverChanged();
}

void ParetoChartItem::hoverMoveEvent(QHoverEvent* event) {
  const int run = chart_ ? chart_->runAt(event->position()) : -1;
  if (run != hovered_ || run >= 0) hover(run, run >= 0 ? chart_->positionOf(run) : QPointF());
}

void ParetoChartItem::hoverLeaveEvent(QHoverEvent*) { hover(-1, {}); }

void ParetoChartItem::mousePressEvent(QMouseEvent* event) {
  const int run = chart_ ? chart_->runAt(event->position()) : -1;
  if (run < 0) {
    event->ignore();
    return;
  }
  Q_EMIT runClicked(run, QString::fromStdString((std::filesystem::path(chart_->table().runs[size_t(run)].dir) / "quant").string()));
}
