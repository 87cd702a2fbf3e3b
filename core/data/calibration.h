#pragma once
// Calibration sets: `samples` prompts drawn from labelled prompt files with a share `ratio` of
// malicious ones (Q-realign's calibration ratio), deterministically by a hash of (seed, id) and
// stratified by source, so every source keeps its share of its label within one prompt.
#include <cstdint>
#include <vector>

#include "core/data/prompt_set.h"

namespace sq {

struct CalibrationDraw {
  std::vector<Prompt> prompts;       // malicious first, then benign
  std::vector<Stratum> composition;  // per (label, source): population and drawn
};

// Throws sq::Error when the files do not hold enough prompts of a label.
CalibrationDraw draw_calibration(const std::vector<Prompt>& prompts, int samples, double ratio, uint64_t seed);

}  // namespace sq
