// `safequant run CONFIG.json`: the whole pipeline from one config into one run folder.
#include <cstdio>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/experiment/run_pipeline.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_run(const Args& a) {
  if (a.positional().size() != 1) throw UsageError("give one config file: safequant run CONFIG.json");
  RunConfig config;
  try {
    config = read_run_config(a.positional()[0]);
  } catch (const ConfigError& e) {
    throw UsageError(e.what());
  }
  sq::start_thread_fitting();
  RunOutcome r;
  try {
    r = run_pipeline(config, a.get("out"), a.has("force"), progress_bar(a), device_arg(a));
  } catch (const ConfigError& e) {
    throw UsageError(e.what());
  }
  if (!a.has("quiet")) {
    for (const std::string& n : r.notes) std::fprintf(stderr, "run: note: %s\n", n.c_str());
    if (r.reused)
      std::fprintf(stderr, "run: reused %s: a complete run of the same resolved config and inputs (hash %.12s)\n", r.dir.c_str(),
                   r.hash.c_str());
    else
      std::fprintf(stderr, "run: %s %s in %.1f s -> %s\n", info(config.quantize.method).name, config.quantize.scheme.name.c_str(),
                   r.seconds, r.dir.c_str());
    if (r.eval)
      std::fprintf(stderr, "run: harmful %.1f%% of %d malicious, over-refusal %.1f%% of %d benign\n", r.eval->harmful_score,
                   r.eval->n_malicious, r.eval->refusal_rate_benign, r.eval->n_benign);
  }
  std::printf("%s\n", r.dir.c_str());
  return 0;
}

}  // namespace sq::cli
