#pragma once
// The largest |a - b| between two forward passes' logits: at one position, or over all of them.
#include <algorithm>
#include <cmath>
#include <vector>

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0.f;
  for (size_t v = 0; v < a.size(); ++v) d = std::max(d, std::fabs(a[v] - b[v]));
  return d;
}

inline float max_abs_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  float d = 0.f;
  for (size_t t = 0; t < a.size(); ++t) d = std::max(d, max_abs_diff(a[t], b[t]));
  return d;
}
