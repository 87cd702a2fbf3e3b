#pragma once
// A sweep as Slurm jobs: one job array with a task per run, each running the same `safequant run`
// on the shared sweep folder, and a dependent job that gathers the table. This file writes the
// scripts: runs.txt (one run config per line, the array's index), array.sbatch, gather.sbatch and
// submit.sh (sbatch of both, the second after the first). Torch-free.
#include <string>
#include <vector>

#include "core/experiment/sweep.h"

namespace sq {

struct SlurmOptions {
  std::string safequant;  // the executable every task runs (on the cluster's shared file system)
  std::string partition, time;  // sbatch --partition, --time; empty: the cluster's defaults
  int cpus_per_task = 2;        // each run's threads are capped to these
  std::vector<std::string> sbatch_args;  // passed through to both jobs, each "--name[=value]"
};

struct SlurmScripts {
  std::string dir, runs, array, gather, submit;
};

// Writes the scripts into `dir` for the sweep whose config is `sweep_config` (the gather job
// reads it again). sq::Error names an option whose value cannot go into a script line.
SlurmScripts write_slurm_scripts(const SweepConfig& sweep, const std::string& sweep_config, const std::string& dir,
                                 const SlurmOptions& options);

}  // namespace sq
