#pragma once
// Work as Slurm jobs: one job array with a task per line of tasks.txt (each a shell command made
// here, run by every task on the cluster's shared file system), and a dependent job that gathers
// the results. This file writes the scripts: tasks.txt, array.sbatch, gather.sbatch and submit.sh
// (sbatch of both, the second after the first). A sweep's tasks are its runs; a multi-zoo
// efficacy table's are its zoo seeds. Torch-free.
#include <string>
#include <vector>

#include "core/experiment/sweep.h"

namespace sq {

struct SlurmOptions {
  std::string safequant;  // the executable every task runs (on the cluster's shared file system)
  std::string partition, time;  // sbatch --partition, --time; empty: the cluster's defaults
  int cpus_per_task = 2;        // each task's threads are capped to these
  std::vector<std::string> sbatch_args;  // passed through to both jobs, each "--name[=value]"
};

struct SlurmScripts {
  std::string dir, tasks, array, gather, submit;
};

// One `safequant` invocation: its arguments (quoted here) and the log its output goes to.
struct SlurmCommand {
  std::vector<std::string> args;
  std::string log;
};

struct SlurmJob {
  std::string name;                               // the jobs' names: NAME and NAME-gather
  std::vector<std::vector<SlurmCommand>> tasks;   // each task: its commands, one after another while they succeed
  std::vector<std::string> gather;                // the gathering command's arguments
  std::string about;                              // a comment for the array script
};

// Writes the scripts into `dir`. sq::Error names an option whose value cannot go into a script
// line, or a job without tasks.
SlurmScripts write_slurm_job(const SlurmJob& job, const std::string& dir, const SlurmOptions& options);

// A sweep's job: a task per run, each the same `safequant run` on the shared sweep folder, and
// `sweep CONFIG --gather` after them (the gather job reads `sweep_config` again).
SlurmScripts write_slurm_scripts(const SweepConfig& sweep, const std::string& sweep_config, const std::string& dir,
                                 const SlurmOptions& options);

// Runs `submit.sh` and returns the job ids it printed; sq::Error with its output when it fails.
std::string submit_slurm_job(const SlurmScripts& scripts);

}  // namespace sq
