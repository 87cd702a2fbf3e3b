#pragma once
// Calibration sets: `samples` prompts drawn from labelled prompt files with a share `ratio` of
// malicious ones (Q-realign's calibration ratio), deterministically by a hash of (seed, id).
#include <cstdint>
#include <vector>

#include "core/data/prompt_set.h"

namespace sq {

// Throws sq::Error when the files do not hold enough prompts of a label.
std::vector<Prompt> draw_calibration(const std::vector<Prompt>& prompts, int samples, double ratio, uint64_t seed);

}  // namespace sq
