#pragma once
// The evidence for safety-aware mixed precision (`safequant mixed-sweep`): on each demo zoo's
// aligned model, the sensitivity table, then at each budget the safety-aware allocation, the same
// solver on utility KL alone (the perplexity-driven allocation), and random allocations, each
// quantized (RTN) and evaluated on the held-out sets with the zoo's demo judge; beside them every
// uniform option and llama.cpp's Q4_K_M rule. Every allocation is also measured whole on the
// calibration draw, to see whether the units' predicted losses add up (rank correlation on the
// random ones). Writes mixed-sweep.json, mixed-sweep.md and the chart mixed-sweep.svg. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/run/progress.h"

namespace sq {

struct MixedSweepOptions {
  std::vector<uint64_t> zoo_seeds = {0};
  std::vector<double> budget_bits = {3.0, 3.5, 4.0, 4.5};
  int random_allocations = 5;  // per budget, seeds 1 ... N
  bool judge = true;           // the zoo's demo judge scores the malicious replies
  std::string out;
  std::string command;         // as typed, for the report
  Progress progress;
};

struct MixedSweepRow {
  uint64_t zoo = 0;
  std::string allocator;  // "safety", "utility", "random 3", "uniform w4a16-g32-sym", "llama.cpp q4_k_m", "full precision"
  double budget_bits = 0;  // 0 where the allocator takes no budget
  double bits_per_weight = 0, bytes = 0;
  double predicted_safety_kl = 0, predicted_utility_kl = 0;  // the units' table losses added (NaN where none)
  double measured_safety_kl = 0, measured_utility_kl = 0;    // the whole model on the calibration draw (NaN where not measured)
  double harmful = 0, judged_harmful = -1;                   // % (judged: -1 without a judge)
  double refusal_benign = 0, refusal_xstest = 0, task_accuracy = -1;
};

struct MixedSweepResult {
  std::vector<MixedSweepRow> rows;
  std::string markdown;  // also written to OUT/mixed-sweep.md
};

// Throws sq::Error when a zoo is not trained (naming the command that trains it), for an empty
// budget list, or for what a stage refuses; sq::Cancelled when cancelled. A zoo whose rows
// (OUT/zoo-<N>/rows.json) are there is not measured again.
MixedSweepResult run_mixed_sweep(const MixedSweepOptions& options);

// Spearman's rank correlation of two equally long series (ties take their mean rank); NaN for
// fewer than three points or a constant series.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace sq
