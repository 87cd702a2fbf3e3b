#pragma once
// `safequant zoo`: trains the demo models (base, aligned, finetuned) from the shipped prompt
// sets, saves each in Hugging Face layout, measures them on held-out prompts with the project's
// own evaluator and probe, and records everything in zoo.json. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/run/progress.h"

namespace sq {

struct ZooOptions {
  std::string preset = "demo";  // demo | tiny
  std::string out;              // empty: default_zoo_dir(preset)
  uint64_t seed = 0;
  bool force = false;           // retrain even when a matching zoo is cached
  Progress progress;
};

struct ZooResult {
  std::string dir;
  bool reused = false;
  std::vector<std::string> missed;            // the behaviour targets this zoo does not meet
  std::vector<std::string> premises_not_met;  // the demo's premises that do not hold (core/zoo/premises.h)
  std::string summary;              // a few lines for the console
};

ZooResult build_zoo(const ZooOptions& options);

// ~/.cache/safequant/zoo/<preset> (or under $XDG_CACHE_HOME).
std::string default_zoo_dir(const std::string& preset);

}  // namespace sq
