#pragma once
// The efficacy table over several demo zoos, one per training seed: one zoo is one draw among the
// trainings that rounding and data order could give, so a claim about the demo holds only where it
// holds on most zoos. Each seed's zoo is trained (or reused) and gets its own efficacy table
// (efficacy.h) in WORK/seed-<N>/; this file names those folders and gathers them into one report:
// every headline figure as the median and range over the zoos, every goal with the number of zoos
// it held on, the zoos' own behaviour likewise, the shipped seed marked. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

// Parses "0,1,2,3,4" (or "0-4"); sq::Error for anything else or a repeated seed.
std::vector<uint64_t> parse_zoo_seeds(const std::string& text);

// The demo zoo of a training seed: the shipped one for seed 0 where it is current, else the
// user's cache (~/.cache/safequant/zoo/demo-seed-<N>).
std::string seed_zoo_dir(uint64_t seed);

// WORK/seed-<N>/efficacy.md (its JSON beside it) and WORK/seed-<N>/runs: one zoo's table and runs.
std::string seed_efficacy_report(const std::string& work, uint64_t seed);
std::string seed_efficacy_runs(const std::string& work, uint64_t seed);

// A claim is stated as holding only when it holds on at least this many of five zoos (scaled to
// the number of zoos: four fifths, rounded up).
int zoos_needed(size_t zoos);

struct EfficacySeedsReport {
  std::string markdown;
  std::vector<std::string> missing;  // seeds whose table is not there (not made, or failed)
  std::vector<std::string> goals_not_holding;
};

// Reads every seed's efficacy JSON and zoo.json and writes `out` (Markdown) and its JSON beside it.
// Seeds whose table is missing are listed in the report and in `missing`; sq::Error when none is there.
EfficacySeedsReport gather_efficacy_seeds(const std::vector<uint64_t>& seeds, const std::string& work, const std::string& out,
                                          const std::string& command);

}  // namespace sq
