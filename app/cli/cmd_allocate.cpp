// `safequant allocate`: bits per unit under a budget, from a sensitivity table.
#include <iomanip>
#include <iostream>

#include "app/cli/command.h"
#include "core/mixed/allocation.h"

namespace sq::cli {

int run_allocate(const Args& a) {
  const std::string dir = a.required("sensitivity");
  const SensitivityTable t = read_sensitivity(dir);
  const AllocationObjective objective = parse_allocation_objective(a.get("objective", "safety"));
  const double mu = a.get_double("mu", 1.0);
  if (a.has("front")) {
    std::cout << "bytes,bits_per_weight,safety_kl,utility_kl,refusal_logprob_change\n";
    for (const Allocation& f : loss_bytes_front(t, objective, mu))
      std::cout << f.bytes << ',' << f.bits_per_weight << ',' << f.predicted_safety_kl << ',' << f.predicted_utility_kl << ','
                << f.predicted_refusal_change << '\n';
    return 0;
  }
  if (a.has("budget-bits") == a.has("budget-bytes")) throw UsageError("give one of --budget-bits or --budget-bytes (or --front)");
  const Allocation r = allocate_for(dir, a.get_double("budget-bits", 0), a.get_double("budget-bytes", 0), objective, mu);
  const double budget = r.budget_bytes;
  if (!a.has("quiet")) {
    std::cerr << "allocate: " << std::fixed << std::setprecision(3) << r.bits_per_weight << " bits per weight (" << std::setprecision(0)
              << r.bytes << " of " << budget << " bytes), predicted safety KL " << std::setprecision(4) << r.predicted_safety_kl
              << ", utility KL " << r.predicted_utility_kl << ", refusal log-probability change " << r.predicted_refusal_change << "\n";
    for (size_t u = 0; u < t.units.size(); ++u) std::cerr << "  " << std::left << std::setw(20) << t.units[u].name() << t.options[r.choice[u]] << "\n";
  }
  const std::string out = a.get("out", dir + "/allocation.json");
  write_allocation(out, t, r);
  std::cout << out << "\n";
  return 0;
}

}  // namespace sq::cli
