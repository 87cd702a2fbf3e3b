#include "core/text/figures.h"

#include <cstdio>

namespace sq {

std::string figure_text(const char* format, double a, double b, double c, double d) {
  char line[256];
  std::snprintf(line, sizeof line, format, a, b, c, d);
  return line;
}

double mean_of(const std::vector<double>& values) {
  double s = 0;
  for (double x : values) s += x;
  return values.empty() ? 0 : s / double(values.size());
}

}  // namespace sq
