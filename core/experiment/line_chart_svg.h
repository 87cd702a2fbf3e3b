#pragma once
// A line chart as an SVG file: named series of (x, y) points over linear axes with ticks, a
// legend, for reports that must render without a display or Qt. Plain C++.
#include <string>
#include <utility>
#include <vector>

namespace sq {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // drawn joined in x order; a single point as a marker
  std::string color = "#1565c0";
  bool dashed = false;
};

// Writes the chart atomically; throws sq::Error naming the file when it cannot be written.
void write_line_chart_svg(const std::string& path, const std::string& title, const std::string& x_label, const std::string& y_label,
                          const std::vector<ChartSeries>& series);

}  // namespace sq
