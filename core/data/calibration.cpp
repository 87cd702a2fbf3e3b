#include "core/data/calibration.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sq {

CalibrationDraw draw_calibration(const std::vector<Prompt>& prompts, int samples, double ratio, uint64_t seed) {
  if (samples < 1) throw Error("the calibration set needs at least one sample");
  if (ratio < 0 || ratio > 1) throw Error("the calibration ratio must be between 0 and 1");
  const size_t want_mal = size_t(std::lround(samples * ratio)), want_ben = size_t(samples) - want_mal;
  const size_t have_mal = size_t(std::count_if(prompts.begin(), prompts.end(), [](const Prompt& p) { return p.label == 1; }));
  const size_t have_ben = prompts.size() - have_mal;
  if (have_mal < want_mal || have_ben < want_ben)
    throw Error("the calibration set needs " + std::to_string(want_mal) + " malicious and " + std::to_string(want_ben) +
                " benign prompts; the prompt files hold " + std::to_string(have_mal) + " and " + std::to_string(have_ben));
  std::vector<size_t> chosen = stratified_draw(prompts, 1, want_mal, seed);
  const std::vector<size_t> benign = stratified_draw(prompts, 0, want_ben, seed);
  chosen.insert(chosen.end(), benign.begin(), benign.end());
  CalibrationDraw draw;
  for (size_t i : chosen) draw.prompts.push_back(prompts[i]);
  draw.composition = strata_of(prompts, chosen);
  return draw;
}

}  // namespace sq
