#include "core/data/calibration.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sq {

std::vector<Prompt> draw_calibration(const std::vector<Prompt>& prompts, int samples, double ratio, uint64_t seed) {
  if (samples < 1) throw Error("the calibration set needs at least one sample");
  if (ratio < 0 || ratio > 1) throw Error("the calibration ratio must be between 0 and 1");
  const int want_mal = int(std::lround(samples * ratio)), want_ben = samples - want_mal;
  std::vector<std::pair<uint64_t, size_t>> mal, ben;
  for (size_t i = 0; i < prompts.size(); ++i) (prompts[i].label ? mal : ben).emplace_back(id_hash(prompts[i].id, seed), i);
  if (int(mal.size()) < want_mal || int(ben.size()) < want_ben)
    throw Error("the calibration set needs " + std::to_string(want_mal) + " malicious and " + std::to_string(want_ben) +
                " benign prompts; the prompt files hold " + std::to_string(mal.size()) + " and " + std::to_string(ben.size()));
  std::sort(mal.begin(), mal.end());
  std::sort(ben.begin(), ben.end());
  std::vector<Prompt> out;
  for (int k = 0; k < want_mal; ++k) out.push_back(prompts[mal[size_t(k)].second]);
  for (int k = 0; k < want_ben; ++k) out.push_back(prompts[ben[size_t(k)].second]);
  return out;
}

}  // namespace sq
