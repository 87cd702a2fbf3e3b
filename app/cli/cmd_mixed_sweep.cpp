// `safequant mixed-sweep`: the evidence for safety-aware mixed precision on the demo zoos.
#include <cstdio>
#include <sstream>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/experiment/efficacy_seeds.h"
#include "core/experiment/mixed_sweep.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_mixed_sweep(const Args& a) {
  MixedSweepOptions o;
  try {
    o.zoo_seeds = parse_zoo_seeds(a.get("zoo-seeds", "0"));
  } catch (const Error& e) {
    throw UsageError(std::string("--zoo-seeds: ") + e.what());
  }
  if (a.has("bits")) {
    o.budget_bits.clear();
    std::stringstream list(a.get("bits"));
    for (std::string item; std::getline(list, item, ',');) {
      char* end = nullptr;
      const double b = std::strtod(item.c_str(), &end);
      if (item.empty() || *end != '\0' || !(b > 0 && b <= 16)) throw UsageError("--bits takes bits per weight between 0 and 16, as 3,3.5,4.5");
      o.budget_bits.push_back(b);
    }
  }
  o.random_allocations = a.get_int("random", 5);
  if (o.random_allocations < 0) throw UsageError("--random must be 0 or more");
  o.judge = !a.has("no-judge");
  o.out = a.required("out");
  o.command = "safequant mixed-sweep --zoo-seeds " + a.get("zoo-seeds", "0") + (a.has("bits") ? " --bits " + a.get("bits") : "") +
              (a.has("random") ? " --random " + a.get("random") : "") + (a.has("no-judge") ? " --no-judge" : "") + " --out " + o.out;
  o.progress = progress_bar(a);
  sq::start_thread_fitting();
  const MixedSweepResult r = run_mixed_sweep(o);
  if (!a.has("quiet")) std::fprintf(stderr, "mixed-sweep: %zu runs\n", r.rows.size());
  std::printf("%s/mixed-sweep.md\n", o.out.c_str());
  return 0;
}

}  // namespace sq::cli
