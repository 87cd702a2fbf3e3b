#include "app/charts/pareto_chart.h"

#include <QBuffer>
#include <QChart>
#include <QGraphicsLayout>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QImage>
#include <QLineSeries>
#include <QPainter>
#include <QScatterSeries>
#include <QSvgGenerator>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <map>

#include "core/io/atomic_file.h"

namespace {

std::optional<QPointF> value_of(const sq::SweepTableRow& r) {
  const std::optional<double> u = sq::sweep_utility(r);
  const std::optional<double> harmful = sq::sweep_harmful(r);
  if (r.status != "done" || !harmful || !u) return std::nullopt;
  return QPointF(*harmful, *u);
}

// An axis range around `lo`..`hi` with some room, within 0..100 (both axes are percentages).
std::pair<double, double> padded(double lo, double hi) {
  const double pad = std::max(2.0, (hi - lo) * 0.12);
  return {std::max(0.0, std::floor((lo - pad) / 5) * 5), std::min(100.0, std::ceil((hi + pad) / 5) * 5)};
}

}  // namespace

QString ParetoChart::label(const sq::SweepTableRow& row) {
  QStringList parts;
  for (const auto& [key, value] : row.values.items())
    parts << QString::fromStdString(value.is_string() ? value.get<std::string>() : value.dump());
  return parts.join(QStringLiteral(" · "));
}

ParetoChart::ParetoChart(sq::SweepTable table) : table_(std::move(table)), scene_(std::make_unique<QGraphicsScene>()) {
  chart_ = new QChart;
  scene_->addItem(chart_);
  const bool judged = std::any_of(table_.runs.begin(), table_.runs.end(), [](const sq::SweepTableRow& r) { return r.judged_harmful_score.has_value(); });
  chart_->setTitle(QStringLiteral("%1 against %2")
                       .arg(judged ? QStringLiteral("Judged harmful score") : QStringLiteral("Harmful score"),
                            QString::fromStdString(sq::sweep_utility_name(table_))));
  chart_->setBackgroundBrush(Qt::white);
  chart_->legend()->setAlignment(Qt::AlignBottom);

  // One series per quantized size, smallest first, the markers growing with the size; past six
  // sizes (a bit ladder has a size per rung), six equal bands between the smallest and largest.
  double x0 = 100, x1 = 0, y0 = 100, y1 = 0, mb0 = 1e300, mb1 = 0;
  for (int i = 0; i < int(table_.runs.size()); ++i) {
    const auto v = value_of(table_.runs[size_t(i)]);
    if (!v) continue;
    markers_.push_back({i, *v});
    x0 = std::min(x0, v->x()), x1 = std::max(x1, v->x()), y0 = std::min(y0, v->y()), y1 = std::max(y1, v->y());
    mb0 = std::min(mb0, table_.runs[size_t(i)].model_mb), mb1 = std::max(mb1, table_.runs[size_t(i)].model_mb);
  }
  std::map<long, std::vector<int>> by_size;  // size in 0.01 MB -> runs
  for (const Marker& m : markers_) by_size[std::lround(table_.runs[size_t(m.run)].model_mb * 100)].push_back(m.run);
  constexpr int kSizeClasses = 6;
  std::vector<std::pair<QString, std::vector<int>>> classes;  // legend name -> runs
  if (int(by_size.size()) <= kSizeClasses) {
    for (const auto& [size, runs] : by_size) classes.push_back({QStringLiteral("%1 MB").arg(double(size) / 100, 0, 'f', 2), runs});
  } else {
    std::vector<std::vector<int>> bands(kSizeClasses);
    std::vector<std::pair<double, double>> range(kSizeClasses, {1e300, 0});
    for (const Marker& m : markers_) {
      const double mb = table_.runs[size_t(m.run)].model_mb;
      const int b = std::min(kSizeClasses - 1, int((mb - mb0) / (mb1 - mb0) * kSizeClasses));
      bands[size_t(b)].push_back(m.run);
      range[size_t(b)] = {std::min(range[size_t(b)].first, mb), std::max(range[size_t(b)].second, mb)};
    }
    for (int b = 0; b < kSizeClasses; ++b)
      if (!bands[size_t(b)].empty())
        classes.push_back({QStringLiteral("%1–%2 MB").arg(range[size_t(b)].first, 0, 'f', 2).arg(range[size_t(b)].second, 0, 'f', 2),
                           bands[size_t(b)]});
  }
  auto* ax = new QValueAxis;
  auto* ay = new QValueAxis;
  ax->setTitleText(judged ? QStringLiteral("judged harmful score (%), lower is safer") : QStringLiteral("harmful score (%), lower is safer"));
  ay->setTitleText(QString::fromStdString(sq::sweep_utility_name(table_)));
  const auto [xa, xb] = markers_.empty() ? std::pair{0.0, 100.0} : padded(x0, x1);
  const auto [ya, yb] = markers_.empty() ? std::pair{0.0, 100.0} : padded(y0, y1);
  ax->setRange(xa, xb);
  ay->setRange(ya, yb);
  ax->setLabelFormat(QStringLiteral("%.0f"));
  ay->setLabelFormat(QStringLiteral("%.0f"));
  chart_->addAxis(ax, Qt::AlignBottom);
  chart_->addAxis(ay, Qt::AlignLeft);
  auto attach = [&](QXYSeries* s) {
    chart_->addSeries(s);
    s->attachAxis(ax);
    s->attachAxis(ay);
  };

  // The front, joined in order of harmful score, under the markers.
  std::vector<QPointF> front;
  for (const Marker& m : markers_)
    if (table_.runs[size_t(m.run)].pareto) front.push_back(m.value);
  std::sort(front.begin(), front.end(), [](const QPointF& a, const QPointF& b) { return a.x() < b.x() || (a.x() == b.x() && a.y() > b.y()); });
  if (front.size() > 1) {
    auto* line = new QLineSeries;
    line->setName(QStringLiteral("Pareto front"));
    for (const QPointF& p : front) line->append(p);
    QPen pen(QColor(0x37, 0x47, 0x4f));
    pen.setStyle(Qt::DashLine);
    pen.setWidthF(1.5);
    line->setPen(pen);
    attach(line);
  }
  static const QColor kColors[] = {QColor(0x1e, 0x88, 0xe5), QColor(0xe5, 0x39, 0x35), QColor(0x43, 0xa0, 0x47),
                                   QColor(0xfb, 0x8c, 0x00), QColor(0x8e, 0x24, 0xaa), QColor(0x00, 0x89, 0x7b)};
  int k = 0;
  for (const auto& [name, runs] : classes) {
    auto* s = new QScatterSeries;
    s->setName(name);
    s->setMarkerShape(QScatterSeries::MarkerShapeCircle);
    s->setMarkerSize(9 + 5 * k);
    s->setColor(kColors[k % 6]);
    s->setBorderColor(Qt::white);
    for (int i : runs)
      for (const Marker& m : markers_)
        if (m.run == i) s->append(m.value);
    attach(s);
    ++k;
  }
  if (!front.empty()) {
    auto* rings = new QScatterSeries;
    rings->setName(QStringLiteral("non-dominated"));
    rings->setMarkerShape(QScatterSeries::MarkerShapeCircle);
    rings->setMarkerSize(9 + 5 * k + 8);
    rings->setColor(Qt::transparent);
    rings->setBorderColor(QColor(0x37, 0x47, 0x4f));
    QPen pen(QColor(0x37, 0x47, 0x4f));
    pen.setWidthF(2);
    rings->setPen(pen);
    for (const QPointF& p : front) rings->append(p);
    attach(rings);
  }
  for (const Marker& m : markers_) {
    if (!table_.runs[size_t(m.run)].pareto) continue;
    auto* text = new QGraphicsSimpleTextItem(label(table_.runs[size_t(m.run)]), chart_);
    QFont f = text->font();
    f.setPointSizeF(8);
    text->setFont(f);
    text->setData(0, m.run);
  }
  resize(QSizeF(960, 640));
}

ParetoChart::~ParetoChart() = default;

void ParetoChart::place_labels() {
  for (QGraphicsItem* item : chart_->childItems()) {
    auto* text = dynamic_cast<QGraphicsSimpleTextItem*>(item);
    if (!text || !text->data(0).isValid()) continue;
    const int run = text->data(0).toInt();
    for (const Marker& m : markers_)
      if (m.run == run) text->setPos(chart_->mapToPosition(m.value) + QPointF(10, -16));
  }
}

void ParetoChart::resize(const QSizeF& size) {
  chart_->setGeometry(QRectF(QPointF(0, 0), size));
  scene_->setSceneRect(QRectF(QPointF(0, 0), size));
  chart_->layout()->activate();
  place_labels();
}

void ParetoChart::render(QPainter* painter) {
  painter->setRenderHint(QPainter::Antialiasing);
  // In the chart's own pixels: a high-density image scales them, and would otherwise be taken as
  // that many more of them.
  scene_->render(painter, scene_->sceneRect(), scene_->sceneRect());
}

QPointF ParetoChart::positionOf(int index) const {
  for (const Marker& m : markers_)
    if (m.run == index) return chart_->mapToPosition(m.value);
  return {-1, -1};
}

int ParetoChart::runAt(const QPointF& pos, qreal radius) const {
  int best = -1;
  qreal nearest = radius;
  for (const Marker& m : markers_) {
    const QPointF d = chart_->mapToPosition(m.value) - pos;
    const qreal dist = std::hypot(d.x(), d.y());
    if (dist <= nearest) nearest = dist, best = m.run;
  }
  return best;
}

void ParetoChart::write(const sq::SweepTable& table, const QString& png, const QString& svg, QSize size) {
  ParetoChart c(table);
  c.resize(size);
  QImage image(size * 2, QImage::Format_ARGB32);  // twice the pixels: sharp on high-density screens
  image.setDevicePixelRatio(2);
  image.fill(Qt::white);
  {
    QPainter p(&image);
    c.render(&p);
  }
  QByteArray png_bytes;
  {
    QBuffer out(&png_bytes);
    out.open(QIODevice::WriteOnly);
    image.save(&out, "PNG");
  }
  QByteArray svg_bytes;
  {
    QBuffer out(&svg_bytes);
    QSvgGenerator gen;
    gen.setOutputDevice(&out);
    gen.setSize(size);
    gen.setViewBox(QRect(QPoint(0, 0), size));
    gen.setTitle(QStringLiteral("SafeQuant sweep: Pareto chart"));
    QPainter p(&gen);
    c.render(&p);
  }
  for (const auto& [path, bytes] : {std::pair{png, png_bytes}, std::pair{svg, svg_bytes}})
    sq::write_atomically(path.toStdString(), [&](std::ostream& o) { o.write(bytes.constData(), bytes.size()); });
}
