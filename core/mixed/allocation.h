#pragma once
// Bits per unit under a budget, from a sensitivity table: an exact multiple-choice knapsack
// (dynamic programming over the units) that picks one option per unit, minimising the predicted
// loss (the units' losses added) within the budget; and a Lagrangian sweep that traces the whole
// front of loss against bytes. Written and read here as allocation.json. Plain C++.
#include <string>
#include <vector>

#include "core/mixed/sensitivity_table.h"
#include "core/quantized/scheme_mix.h"

namespace sq {

// What the allocation minimises: safety KL + mu * utility KL, or utility KL alone (the
// perplexity-driven allocation AutoRound's and llama.cpp's searches make, as a baseline).
enum class AllocationObjective { Safety, Utility };
const char* allocation_objective_name(AllocationObjective o);  // "safety", "utility"
AllocationObjective parse_allocation_objective(const std::string& name);

struct Allocation {
  std::string sensitivity_dir;
  AllocationObjective objective = AllocationObjective::Safety;
  double mu = 1;
  double budget_bytes = 0;
  std::vector<size_t> choice;  // option index per unit of the table
  double bytes = 0, bits_per_weight = 0;
  double predicted_safety_kl = 0, predicted_utility_kl = 0, predicted_refusal_change = 0;
  int64_t resolution = 1;      // bytes per step of the knapsack (1: exact to the byte)
};

// The best choice within `budget_bytes` (the units' weights as deployed). Throws sq::Error when
// even the smallest option of every unit exceeds the budget, naming the least it needs.
Allocation allocate_bits(const SensitivityTable& t, double budget_bytes, AllocationObjective objective, double mu);

// Bytes for an average of `bits` per weight over the table's units.
double budget_for_bits(const SensitivityTable& t, double bits);

// The lower convex front of predicted loss against bytes: for each multiplier, every unit takes
// its option minimising loss + multiplier * bytes; the distinct allocations, smallest first.
std::vector<Allocation> loss_bytes_front(const SensitivityTable& t, AllocationObjective objective, double mu);

// The plan a quantization run follows (`quantize --mixed`): each unit of the table on its option.
SchemeMix scheme_mix(const SensitivityTable& t, const Allocation& a);

// The allocation `quantize --mixed` and `allocate` take from a sensitivity folder: within
// `budget_bits` per weight (when > 0) or `budget_bytes`; throws sq::Error when neither or both are given.
Allocation allocate_for(const std::string& sensitivity_dir, double budget_bits, double budget_bytes, AllocationObjective objective,
                        double mu);

void write_allocation(const std::string& path, const SensitivityTable& t, const Allocation& a);
// Reads an allocation and checks it against the table it names; throws sq::Error naming the file.
Allocation read_allocation(const std::string& path);

}  // namespace sq
