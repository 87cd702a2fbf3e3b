#include "core/mixed/allocation.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace sq {
namespace {

using json = nlohmann::json;

// The knapsack's largest table: beyond it, byte costs are counted in steps (rounded up, so an
// allocation found is always within the budget).
constexpr int64_t kMaxSteps = 4'000'000;

double loss_of(const SensitivityCell& c, AllocationObjective o, double mu) {
  return o == AllocationObjective::Utility ? c.utility_kl : c.safety_kl + mu * c.utility_kl;
}

void fill_totals(const SensitivityTable& t, Allocation& a) {
  a.bytes = a.predicted_safety_kl = a.predicted_utility_kl = a.predicted_refusal_change = 0;
  double weights = 0;
  for (size_t u = 0; u < t.units.size(); ++u) {
    const SensitivityCell& c = t.cells[u][a.choice[u]];
    a.bytes += c.bytes;
    a.predicted_safety_kl += c.safety_kl;
    a.predicted_utility_kl += c.utility_kl;
    a.predicted_refusal_change += c.refusal_change;
    weights += double(t.units[u].weights);
  }
  a.bits_per_weight = weights > 0 ? a.bytes * 8 / weights : 0;
}

}  // namespace

const char* allocation_objective_name(AllocationObjective o) { return o == AllocationObjective::Utility ? "utility" : "safety"; }

AllocationObjective parse_allocation_objective(const std::string& name) {
  if (name == "safety") return AllocationObjective::Safety;
  if (name == "utility") return AllocationObjective::Utility;
  throw Error("unknown objective '" + name + "' (safety, utility)");
}

double budget_for_bits(const SensitivityTable& t, double bits) {
  double weights = 0;
  for (const SensitivityUnit& u : t.units) weights += double(u.weights);
  return bits * weights / 8;
}

Allocation allocate_bits(const SensitivityTable& t, double budget_bytes, AllocationObjective objective, double mu) {
  if (t.units.empty() || t.options.empty()) throw Error("the sensitivity table has no units or no options");
  if (!(mu >= 0)) throw Error("mu must be zero or more");
  if (t.options.size() > 255) throw Error("at most 255 options per unit");
  Allocation a;
  a.objective = objective, a.mu = mu, a.budget_bytes = budget_bytes;
  // Integer byte costs, in steps of the largest common divisor (exact), or coarser steps rounded
  // up when the table would be too large.
  std::vector<std::vector<int64_t>> cost(t.units.size());
  int64_t gcd = 0, worst = 0, least = 0;
  for (size_t u = 0; u < t.units.size(); ++u) {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
    for (const SensitivityCell& c : t.cells[u]) {
      const int64_t b = int64_t(std::ceil(c.bytes));
      cost[u].push_back(b);
      gcd = std::gcd(gcd, b);
      lo = std::min(lo, b), hi = std::max(hi, b);
    }
    least += lo, worst += hi;
  }
  if (double(least) > budget_bytes)
    throw Error("the budget of " + std::to_string(int64_t(budget_bytes)) + " bytes is below the smallest option of every unit (" +
                std::to_string(least) + " bytes)");
  const int64_t capacity = int64_t(std::floor(std::min(budget_bytes, double(worst))));
  int64_t step = std::max<int64_t>(gcd, 1);
  if (capacity / step > kMaxSteps) step = (capacity + kMaxSteps - 1) / kMaxSteps;
  a.resolution = step;
  const int64_t steps = capacity / step;
  const double inf = std::numeric_limits<double>::infinity();
  // best[s]: the least loss of the units so far within s steps; pick[u][s]: unit u's option there.
  std::vector<double> best(size_t(steps + 1), 0.0), next(size_t(steps + 1));
  std::vector<std::vector<uint8_t>> pick(t.units.size(), std::vector<uint8_t>(size_t(steps + 1), 0));
  for (size_t u = 0; u < t.units.size(); ++u) {
    std::fill(next.begin(), next.end(), inf);
    for (size_t k = 0; k < t.options.size(); ++k) {
      const int64_t c = (cost[u][k] + step - 1) / step;
      const double l = loss_of(t.cells[u][k], objective, mu);
      for (int64_t s = c; s <= steps; ++s)
        if (best[size_t(s - c)] + l < next[size_t(s)]) next[size_t(s)] = best[size_t(s - c)] + l, pick[u][size_t(s)] = uint8_t(k);
    }
    best.swap(next);
  }
  if (!std::isfinite(best[size_t(steps)]))
    throw Error("no allocation fits " + std::to_string(int64_t(budget_bytes)) + " bytes at a resolution of " + std::to_string(step) +
                " bytes; raise the budget");
  a.choice.assign(t.units.size(), 0);
  int64_t s = steps;
  for (size_t u = t.units.size(); u-- > 0;) {
    const size_t k = pick[u][size_t(s)];
    a.choice[u] = k;
    s -= (cost[u][k] + step - 1) / step;
  }
  fill_totals(t, a);
  return a;
}

std::vector<Allocation> loss_bytes_front(const SensitivityTable& t, AllocationObjective objective, double mu) {
  std::vector<Allocation> front;
  // Multipliers from "bytes cost nothing" to "bytes cost everything", on a log scale.
  for (int e = -16; e <= 4; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double lambda = m * std::pow(10.0, e);
      Allocation a;
      a.objective = objective, a.mu = mu;
      for (size_t u = 0; u < t.units.size(); ++u) {
        size_t best = 0;
        for (size_t k = 1; k < t.options.size(); ++k)
          if (loss_of(t.cells[u][k], objective, mu) + lambda * t.cells[u][k].bytes <
              loss_of(t.cells[u][best], objective, mu) + lambda * t.cells[u][best].bytes)
            best = k;
        a.choice.push_back(best);
      }
      fill_totals(t, a);
      a.budget_bytes = a.bytes;
      if (std::none_of(front.begin(), front.end(), [&](const Allocation& f) { return f.choice == a.choice; })) front.push_back(a);
    }
  std::sort(front.begin(), front.end(), [](const Allocation& x, const Allocation& y) { return x.bytes < y.bytes; });
  return front;
}

SchemeMix scheme_mix(const SensitivityTable& t, const Allocation& a) {
  if (a.choice.size() != t.units.size()) throw Error("the allocation does not fit its sensitivity table");
  std::vector<MixUnit> units;
  for (size_t u = 0; u < t.units.size(); ++u) units.push_back({t.units[u].name(), t.options[a.choice[u]], t.units[u].params});
  std::ostringstream by;
  by << allocation_objective_name(a.objective) << " objective";
  if (a.objective == AllocationObjective::Safety) by << " (mu " << a.mu << ")";
  by << ", budget " << std::llround(a.budget_bytes) << " bytes, from the sensitivity table " << a.sensitivity_dir;
  return make_scheme_mix(by.str(), a.bytes, a.bits_per_weight, std::move(units));
}

Allocation allocate_for(const std::string& sensitivity_dir, double budget_bits, double budget_bytes, AllocationObjective objective,
                        double mu) {
  if ((budget_bits > 0) == (budget_bytes > 0)) throw Error("give one budget: bits per weight or bytes, above zero");
  const SensitivityTable t = read_sensitivity(sensitivity_dir);
  Allocation a = allocate_bits(t, budget_bits > 0 ? budget_for_bits(t, budget_bits) : budget_bytes, objective, mu);
  a.sensitivity_dir = std::filesystem::absolute(sensitivity_dir).string();
  return a;
}

void write_allocation(const std::string& path, const SensitivityTable& t, const Allocation& a) {
  json units = json::array();
  for (size_t u = 0; u < t.units.size(); ++u)
    units.push_back({{"layer", t.units[u].layer}, {"group", unit_group_name(t.units[u].group)}, {"params", t.units[u].params},
                     {"option", t.options[a.choice[u]]}});
  const json j = {{"format", "safequant-allocation-1"},
                  {"sensitivity", a.sensitivity_dir},
                  {"model", t.model},
                  {"objective", allocation_objective_name(a.objective)},
                  {"mu", a.mu},
                  {"budget_bytes", a.budget_bytes},
                  {"bytes", a.bytes},
                  {"bits_per_weight", a.bits_per_weight},
                  {"resolution_bytes", a.resolution},
                  {"predicted", {{"safety_kl", a.predicted_safety_kl}, {"utility_kl", a.predicted_utility_kl}, {"refusal_logprob_change", a.predicted_refusal_change}}},
                  {"units", units}};
  write_text_atomically(path, j.dump(1) + "\n");
}

Allocation read_allocation(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot be read");
  Allocation a;
  try {
    const json j = json::parse(in);
    if (j.value("format", "") != "safequant-allocation-1") throw Error(path, "is not an allocation (format safequant-allocation-1)");
    a.sensitivity_dir = j.at("sensitivity").get<std::string>();
    const SensitivityTable t = read_sensitivity(a.sensitivity_dir);
    a.objective = parse_allocation_objective(j.at("objective").get<std::string>());
    a.mu = j.at("mu"), a.budget_bytes = j.at("budget_bytes"), a.resolution = j.at("resolution_bytes");
    const json& units = j.at("units");
    if (units.size() != t.units.size())
      throw Error(path, "lists " + std::to_string(units.size()) + " units where its sensitivity table has " + std::to_string(t.units.size()));
    for (size_t u = 0; u < units.size(); ++u) {
      const std::string option = units[u].at("option");
      const auto it = std::find(t.options.begin(), t.options.end(), option);
      if (it == t.options.end() || units[u].at("params").get<std::vector<std::string>>() != t.units[u].params)
        throw Error(path, "unit " + std::to_string(u) + " (" + t.units[u].name() + ") does not match its sensitivity table");
      a.choice.push_back(size_t(it - t.options.begin()));
    }
    fill_totals(t, a);
  } catch (const json::exception& e) {
    throw Error(path, std::string("is not a valid allocation: ") + e.what());
  }
  return a;
}

}  // namespace sq
