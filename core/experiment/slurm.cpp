#include "core/experiment/slurm.h"

#include <sys/stat.h>

#include <cstdio>
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

SlurmScripts write_slurm_job(const SlurmJob& job, const std::string& dir, const SlurmOptions& o) {
  check_line("--partition", o.partition);
  check_line("--time", o.time);
  for (const std::string& a : o.sbatch_args) {
    check_line("--sbatch-arg", a);
    if (a.rfind("--", 0) != 0) throw Error("--sbatch-arg '" + a + "': pass sbatch options in their long form, \"--name=value\"");
  }
  if (o.cpus_per_task < 1) throw Error("--cpus-per-task must be at least 1");
  if (job.tasks.empty()) throw Error(job.name + ": no tasks to submit");
  fs::create_directories(dir);
  SlurmScripts s;
  s.dir = fs::absolute(dir).lexically_normal().string();
  s.tasks = (fs::path(s.dir) / "tasks.txt").string();
  s.array = (fs::path(s.dir) / "array.sbatch").string();
  s.gather = (fs::path(s.dir) / "gather.sbatch").string();
  s.submit = (fs::path(s.dir) / "submit.sh").string();
  auto command = [&](const std::vector<std::string>& args) {
    std::string line = shell_quoted(o.safequant);
    for (const std::string& a : args) {
      check_line("a task's argument", a);
      line += " " + shell_quoted(a);
    }
    return line;
  };
  std::string tasks;
  for (const auto& commands : job.tasks) {
    std::string line;
    for (const SlurmCommand& c : commands)
      line += (line.empty() ? "" : " && ") + command(c.args) + " --quiet > " + shell_quoted(fs::absolute(c.log).string()) + " 2>&1";
    tasks += line + "\n";
  }
  write_atomically(s.tasks, [&](std::ostream& out) { out << tasks; });

  // Each task's own log goes where a local run puts it; Slurm's goes here.
  std::string array = header(job.name, o, (fs::path(s.dir) / "slurm-%A_%a.out").string());
  array += "#SBATCH --array=0-" + std::to_string(job.tasks.size() - 1) + "\n#SBATCH --cpus-per-task=" + std::to_string(o.cpus_per_task) +
           "\n# " + job.about +
           "\nset -euo pipefail\n"
           "# Evaluation fits its threads to the task's CPUs; quantization and training hold the threads they\n"
           "# name (their results depend on them), more than the CPUs when the job was prepared on a bigger\n"
           "# machine, so threads wait passively instead of spinning on a CPU another needs.\n"
           "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-" + std::to_string(o.cpus_per_task) + "}\"\n"
           "export OMP_WAIT_POLICY=PASSIVE\n"
           "task=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" " + shell_quoted(s.tasks) + ")\n"
           "eval \"$task\"\n";
  write_script(s.array, array);

  std::string gather = header(job.name + "-gather", o, (fs::path(s.dir) / "slurm-gather-%j.out").string());
  gather += "# The results of every task, and the failed ones with their logs (exit 1 when any failed).\n"
            "exec " + command(job.gather) + "\n";
  write_script(s.gather, gather);

  const std::string submit = "#!/bin/bash\n"
                             "# Submits the job: the array, then the gathering once every task has ended.\n"
                             "set -euo pipefail\n"
                             "array=$(sbatch --parsable " + shell_quoted(s.array) + ")\n"
                             "gather=$(sbatch --parsable --dependency=afterany:\"${array%%;*}\" " + shell_quoted(s.gather) + ")\n"
                             "echo \"$array $gather\"\n";
  write_script(s.submit, submit);
  return s;
}

SlurmScripts write_slurm_scripts(const SweepConfig& sweep, const std::string& sweep_config, const std::string& dir,
                                 const SlurmOptions& o) {
  if (sweep.runs.empty()) throw Error(sweep.file, "the grid makes no runs");
  SlurmJob job;
  job.name = "safequant-sweep";
  job.about = "One run of the sweep per task; a run already complete is reused, so resubmitting makes only what is missing.";
  for (const SweepRun& run : sweep.runs)
    job.tasks.push_back({{{"run", fs::absolute(sweep_run_config_path(sweep, run)).string()}, sweep_run_log_path(sweep, run)}});
  job.gather = {"sweep", fs::absolute(sweep_config).string(), "--gather"};
  return write_slurm_job(job, dir, o);
}

std::string submit_slurm_job(const SlurmScripts& scripts) {
  FILE* p = ::popen(("'" + scripts.submit + "' 2>&1").c_str(), "r");
  if (!p) throw Error(scripts.submit, "cannot start it");
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (::pclose(p) != 0) throw Error(scripts.submit, "failed: " + out);
  return out;
}

}  // namespace sq
