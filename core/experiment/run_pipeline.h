#pragma once
// `safequant run`: the whole pipeline from one config (run_config.h) into one run folder:
//   run-config.json   the resolved config, its hash, and whether the run completed
//   quant/            the quantization run (run.json, the quantized tensors, log.json)
//   eval.json         the quantized model's evaluation, when the config names prompts for it
//   exports/<format>/ each export the config asks for
// The quantization and the evaluation are staged beside the folder and moved into place
// together; the exports follow, then run-config.json says "complete". A run whose hash matches
// a complete one is reused, not recomputed; a folder a kill left incomplete is never reused.
// Torch-free.
#include <optional>
#include <string>
#include <vector>

#include "core/eval/eval_report.h"
#include "core/experiment/run_config.h"
#include "core/run/progress.h"

namespace sq {

struct RunOutcome {
  std::string dir, hash;
  bool reused = false;
  std::optional<EvalReport> eval;
  std::vector<std::string> exports;  // the export folders
  std::vector<std::string> notes;    // the quantizer's
  double seconds = 0;
};

inline constexpr const char* kRunConfigFile = "run-config.json";

// What a run folder's run-config.json says of it: the hash of the config it ran (empty: no run
// there), whether it completed, and how long it took.
struct RunState {
  std::string hash;
  bool complete = false;
  double seconds = 0;
};
RunState read_run_state(const std::string& dir);

// `out` overrides the config's "out". `replace`: a finished run of another config at the folder
// may be replaced (and only a run). Throws ConfigError before any work when the folder cannot be
// used, sq::Error or sq::Cancelled during it. The run computes on `device`, which is neither in
// its config nor in its hash: a finished run is reused whichever device asks.
RunOutcome run_pipeline(const RunConfig& config, const std::string& out, bool replace, const Progress& progress,
                        ComputeDevice device = {});

}  // namespace sq
