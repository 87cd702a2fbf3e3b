#include "core/experiment/line_chart_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "core/io/atomic_file.h"

namespace sq {
namespace {

std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

// A tick step of 1, 2 or 5 times a power of ten giving about `n` ticks over `span`.
double tick_step(double span, int n) {
  const double raw = span / n, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

}  // namespace

void write_line_chart_svg(const std::string& path, const std::string& title, const std::string& x_label, const std::string& y_label,
                          const std::vector<ChartSeries>& series) {
  constexpr double W = 860, H = 520, L = 70, R = 230, T = 40, B = 60;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const ChartSeries& s : series)
    for (const auto& [x, y] : s.points) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (!(x1 >= x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double xpad = (x1 - x0) * 0.05, ypad = (y1 - y0) * 0.08;
  x0 -= xpad, x1 += xpad, y0 -= ypad, y1 += ypad;
  const auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  const auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << L << "\" y=\"24\" font-size=\"15\">" << escaped(title) << "</text>\n";
  const double xs = tick_step(x1 - x0, 8), ys = tick_step(y1 - y0, 6);
  for (double x = std::ceil(x0 / xs) * xs; x <= x1; x += xs)
    svg << "<line x1=\"" << px(x) << "\" y1=\"" << T << "\" x2=\"" << px(x) << "\" y2=\"" << H - B << "\" stroke=\"#e0e0e0\"/>"
        << "<text x=\"" << px(x) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << number(x) << "</text>\n";
  for (double y = std::ceil(y0 / ys) * ys; y <= y1; y += ys)
    svg << "<line x1=\"" << L << "\" y1=\"" << py(y) << "\" x2=\"" << W - R << "\" y2=\"" << py(y) << "\" stroke=\"#e0e0e0\"/>"
        << "<text x=\"" << L - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">" << number(y) << "</text>\n";
  svg << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B << "\" fill=\"none\" stroke=\"#606060\"/>\n"
      << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 18 << "\" text-anchor=\"middle\">" << escaped(x_label) << "</text>\n"
      << "<text transform=\"translate(18," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">" << escaped(y_label) << "</text>\n";
  double legend_y = T + 10;
  for (const ChartSeries& s : series) {
    std::vector<std::pair<double, double>> p = s.points;
    std::sort(p.begin(), p.end());
    const std::string dash = s.dashed ? " stroke-dasharray=\"6,4\"" : "";
    if (p.size() > 1) {
      svg << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\"" << dash << " points=\"";
      for (const auto& [x, y] : p) svg << px(x) << "," << py(y) << " ";
      svg << "\"/>\n";
    }
    for (const auto& [x, y] : p) svg << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"4\" fill=\"" << s.color << "\"/>\n";
    svg << "<line x1=\"" << W - R + 14 << "\" y1=\"" << legend_y << "\" x2=\"" << W - R + 38 << "\" y2=\"" << legend_y << "\" stroke=\""
        << s.color << "\" stroke-width=\"2\"" << dash << "/><circle cx=\"" << W - R + 26 << "\" cy=\"" << legend_y << "\" r=\"4\" fill=\""
        << s.color << "\"/><text x=\"" << W - R + 44 << "\" y=\"" << legend_y + 4 << "\">" << escaped(s.name) << "</text>\n";
    legend_y += 20;
  }
  svg << "</svg>\n";
  write_text_atomically(path, svg.str());
}

}  // namespace sq
