// `safequant zoo`: train (or reuse) the demo models and say how they behave.
#include <cstdio>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"
#include "core/zoo/zoo.h"

namespace sq::cli {

int run_zoo(const Args& a) {
  ZooOptions o;
  o.preset = a.get("preset", "demo");
  if (o.preset != "demo" && o.preset != "tiny") throw UsageError("--preset must be tiny or demo");
  o.out = a.get("out");
  o.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  o.force = a.has("force");
  o.progress = progress_bar(a);
  sq::start_thread_fitting();
  const ZooResult r = build_zoo(o);
  std::printf("%s\n", r.dir.c_str());
  if (!a.has("quiet")) {
    std::fprintf(stderr, "zoo: %s %s\n%s", r.reused ? "reusing the cached zoo in" : "trained the zoo into", r.dir.c_str(),
                 r.summary.c_str());
  }
  for (const std::string& m : r.missed) std::fprintf(stderr, "zoo: TARGET MISSED: %s\n", m.c_str());
  for (const std::string& m : r.premises_not_met) std::fprintf(stderr, "PREMISE NOT MET: %s\n", m.c_str());
  return 0;
}

}  // namespace sq::cli
