#include "core/experiment/slurm.h"

#include <sys/stat.h>

#include <filesystem>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace sq {
namespace {

namespace fs = std::filesystem;

// Single-quoted for the shell.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

void check_line(const std::string& what, const std::string& value) {
  if (value.find_first_of("\n\r") != std::string::npos) throw Error(what + " '" + value + "': a script line cannot hold a line break");
}

std::string header(const std::string& name, const SlurmOptions& o, const std::string& log) {
  std::string h = "#!/bin/bash\n#SBATCH --job-name=" + name + "\n#SBATCH --output=" + log + "\n";
  if (!o.partition.empty()) h += "#SBATCH --partition=" + o.partition + "\n";
  if (!o.time.empty()) h += "#SBATCH --time=" + o.time + "\n";
  for (const std::string& a : o.sbatch_args) h += "#SBATCH " + a + "\n";
  return h;
}

void write_script(const std::string& path, const std::string& text) {
  write_atomically(path, [&](std::ostream& out) { out << text; });
  ::chmod(path.c_str(), 0755);
}

}  // namespace

SlurmScripts write_slurm_scripts(const SweepConfig& sweep, const std::string& sweep_config, const std::string& dir,
                                 const SlurmOptions& o) {
  check_line("--partition", o.partition);
  check_line("--time", o.time);
  for (const std::string& a : o.sbatch_args) {
    check_line("--sbatch-arg", a);
    if (a.rfind("--", 0) != 0) throw Error("--sbatch-arg '" + a + "': pass sbatch options in their long form, \"--name=value\"");
  }
  if (o.cpus_per_task < 1) throw Error("--cpus-per-task must be at least 1");
  if (sweep.runs.empty()) throw Error(sweep.file, "the grid makes no runs");
  fs::create_directories(dir);
  SlurmScripts s;
  s.dir = fs::absolute(dir).lexically_normal().string();
  s.runs = (fs::path(s.dir) / "runs.txt").string();
  s.array = (fs::path(s.dir) / "array.sbatch").string();
  s.gather = (fs::path(s.dir) / "gather.sbatch").string();
  s.submit = (fs::path(s.dir) / "submit.sh").string();
  std::string runs;
  for (const SweepRun& run : sweep.runs) runs += fs::absolute(sweep_run_config_path(sweep, run)).string() + "\n";
  write_atomically(s.runs, [&](std::ostream& out) { out << runs; });

  // Each task's own log goes beside its run, as a local sweep's does; Slurm's goes here.
  std::string array = header("safequant-sweep", o, (fs::path(s.dir) / "slurm-%A_%a.out").string());
  array += "#SBATCH --array=0-" + std::to_string(sweep.runs.size() - 1) + "\n#SBATCH --cpus-per-task=" + std::to_string(o.cpus_per_task) +
           "\n# One run of the sweep per task; a run already complete is reused, so resubmitting makes only what is missing.\n"
           "set -euo pipefail\n"
           "# Evaluation fits its threads to the task's CPUs; quantization holds the threads its config names\n"
           "# (its results depend on them), more than the CPUs when the sweep was prepared on a bigger machine,\n"
           "# so threads wait passively instead of spinning on a CPU another needs.\n"
           "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-" + std::to_string(o.cpus_per_task) + "}\"\n"
           "export OMP_WAIT_POLICY=PASSIVE\n"
           "config=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" " + shell_quoted(s.runs) + ")\n"
           "log=" + shell_quoted((fs::path(sweep.out) / "runs").string()) + "/$(basename \"$config\" .json).log\n"
           "exec " + shell_quoted(o.safequant) + " run \"$config\" --quiet > \"$log\" 2>&1\n";
  write_script(s.array, array);

  std::string gather = header("safequant-sweep-gather", o, (fs::path(s.dir) / "slurm-gather-%j.out").string());
  gather += "# The table of every run, and the failed ones with their logs (exit 1 when any failed).\n"
            "exec " + shell_quoted(o.safequant) + " sweep " + shell_quoted(fs::absolute(sweep_config).string()) + " --gather\n";
  write_script(s.gather, gather);

  const std::string submit = "#!/bin/bash\n"
                             "# Submits the sweep: the array, then the gathering once every task has ended.\n"
                             "set -euo pipefail\n"
                             "array=$(sbatch --parsable " + shell_quoted(s.array) + ")\n"
                             "gather=$(sbatch --parsable --dependency=afterany:\"${array%%;*}\" " + shell_quoted(s.gather) + ")\n"
                             "echo \"$array $gather\"\n";
  write_script(s.submit, submit);
  return s;
}

}  // namespace sq
