#pragma once
// `safequant sweep`: a grid over a run config's fields, expanded into runs under one sweep folder:
//   sweep-config.json    the sweep as given, resolved (marks the folder as a sweep)
//   configs/<name>.json  each run's resolved config, runnable alone with `safequant run`
//   runs/<name>/         each run's folder (run_pipeline.h); runs/<name>.log its output
//   sweep.json, sweep.csv one row per run: every swept field and every metric (sweep_table.h)
// A run's name is its swept values, "method=q-realign,ratio=0.5". Torch-free.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/eval/eval_report.h"
#include "core/experiment/run_config.h"
#include "core/experiment/sweep_table.h"
#include "core/run/device.h"
#include "core/run/progress.h"

namespace sq {

struct SweepRun {
  std::string name;
  nlohmann::json values;  // swept key -> value
  RunConfig config;       // resolved, "out" in the sweep's runs/
};

struct SweepConfig {
  std::string file, out;
  std::vector<std::string> fields;  // the swept keys ("ratio", "options.epochs"), in order
  std::vector<SweepRun> runs;
};

// Reads {"run": {a run config}, "grid": {"key": [values...], ...}, "out": "DIR"} and checks every
// run the grid expands to, before any work: ConfigError names the file, the run and the key.
SweepConfig read_sweep_config(const std::string& path);

// Makes the sweep folder (or checks that an existing one is this sweep's) and writes
// sweep-config.json and configs/. sq::Error when the folder holds something else.
void prepare_sweep_folder(const SweepConfig& sweep);

std::string sweep_run_config_path(const SweepConfig& sweep, const SweepRun& run);
std::string sweep_run_log_path(const SweepConfig& sweep, const SweepRun& run);

// Is the run's folder a complete run of its current config?
bool sweep_run_done(const SweepRun& run);

struct SweepRow {
  const SweepRun* run = nullptr;
  std::string status;  // "done", "failed" (a log but no complete run) or "pending"
  std::optional<EvalReport> eval;
  double model_mb = 0, seconds = 0;
};

// Reads every run's folder; writes sweep.json and sweep.csv with the Pareto front marked.
std::vector<SweepRow> gather_sweep(const SweepConfig& sweep);

// Makes the sweep's pending runs one after another in this process (the studio's way; the CLI
// gives each run a process of its own), on `device`. Progress reports each run's own stages as
// "run 2 of 6 (ratio=0.5,scheme=w4a4): quantizing layers"; a run that fails leaves its error in its
// log (so the table says "failed" and names it) and the next run starts; sq::Cancelled stops the
// sweep, leaving no run folder a later sweep would trust. Then gathers the table.
std::vector<SweepRow> run_sweep_here(const SweepConfig& sweep, const Progress& progress, ComputeDevice device = {});

}  // namespace sq
