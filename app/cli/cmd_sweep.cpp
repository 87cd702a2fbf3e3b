// `safequant sweep CONFIG.json [--jobs N]`: a grid of runs (core/experiment/sweep.h), each made
// by `safequant run` in a process of its own (as a cluster's tasks would), N at a time, with the
// runs done out of all and an ETA; then the table of every run and its Pareto chart. With --emit-slurm or --slurm the
// runs become a Slurm job array instead (core/experiment/slurm.h); --gather only makes the table.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include "app/cli/child_process.h"
#include "app/cli/command.h"
#include "core/experiment/slurm.h"
#include "core/experiment/sweep.h"

namespace sq::cli {
namespace {

// `safequant run CONFIG` with its output in LOG. Quantization holds every core (its results depend
// on the thread count, so each run computes as it would alone), so runs made side by side wait
// passively.
pid_t start_run(const std::string& config, const std::string& log, bool side_by_side) {
  return spawn({"/proc/self/exe", "run", config, "--quiet"}, log, side_by_side_env(side_by_side));
}

// The Pareto chart, drawn by safequant-chart beside this program (built with the GUI), into the
// sweep folder. A missing chart program or a failed chart is said, and does not fail the sweep.
void draw_chart(const SweepConfig& sweep) {
  const std::filesystem::path chart = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "safequant-chart";
  if (!std::filesystem::exists(chart)) {
    std::fprintf(stderr, "sweep: no chart: %s is not built (SAFEQUANT_GUI=OFF); the table is in sweep.csv\n", chart.c_str());
    return;
  }
  int status = 0;
  waitpid(spawn({chart.string(), sweep.out}, ""), &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::fprintf(stderr, "sweep: the chart failed (above); the table is in sweep.csv\n");
}

// The table, the runs not done named with their logs; exit 1 when any is not done.
int gather(const SweepConfig& sweep) {
  size_t bad = 0;
  for (const SweepRow& row : gather_sweep(sweep))
    if (row.status != "done") {
      ++bad;
      std::fprintf(stderr, "sweep: %s %s; its log: %s\n", row.run->name.c_str(), row.status.c_str(),
                   sweep_run_log_path(sweep, *row.run).c_str());
    }
  draw_chart(sweep);
  std::printf("%s\n", sweep.out.c_str());
  return bad ? 1 : 0;
}

}  // namespace

int run_sweep(const Args& a) {
  if (a.positional().size() != 1) throw UsageError("give one sweep config: safequant sweep CONFIG.json");
  SweepConfig sweep;
  try {
    sweep = read_sweep_config(a.positional()[0]);
  } catch (const ConfigError& e) {
    throw UsageError(e.what());
  }
  const int jobs = a.get_int("jobs", 1);
  if (jobs < 1) throw UsageError("--jobs must be at least 1");
  const bool slurm = a.has("slurm") || a.has("emit-slurm");
  if (slurm && (a.has("gather") || a.has("jobs"))) throw UsageError("--slurm and --emit-slurm take neither --gather nor --jobs");
  prepare_sweep_folder(sweep);
  if (a.has("gather")) return gather(sweep);
  if (slurm) {
    const SlurmOptions o = slurm_options(a);
    const std::string dir = a.has("emit-slurm") ? a.get("emit-slurm") : (std::filesystem::path(sweep.out) / "slurm").string();
    const SlurmScripts s = write_slurm_scripts(sweep, a.positional()[0], dir, o);
    if (!a.has("slurm")) {
      std::fprintf(stderr, "sweep: %zu runs as a Slurm job array; submit with %s\n", sweep.runs.size(), s.submit.c_str());
      std::printf("%s\n", s.dir.c_str());
      return 0;
    }
    const std::string ids = submit_slurm_job(s);
    std::fprintf(stderr, "sweep: submitted %zu runs as Slurm jobs %s(array, then gather); each run's log goes beside it in %s/runs\n",
                 sweep.runs.size(), ids.c_str(), sweep.out.c_str());
    std::printf("%s\n", sweep.out.c_str());
    return 0;
  }
  std::vector<const SweepRun*> pending;
  for (const SweepRun& run : sweep.runs)
    if (!sweep_run_done(run)) pending.push_back(&run);
  const bool quiet = a.has("quiet");
  const size_t total = sweep.runs.size(), before = total - pending.size();
  if (!quiet) std::fprintf(stderr, "sweep: %zu runs, %zu done before, %zu to make, %d at a time\n", total, before, pending.size(), jobs);
  const auto t0 = std::chrono::steady_clock::now();
  std::map<pid_t, const SweepRun*> running;
  size_t next = 0, finished = 0, failed = 0;
  while (next < pending.size() || !running.empty()) {
    while (next < pending.size() && int(running.size()) < jobs) {
      const SweepRun* run = pending[next++];
      running[start_run(sweep_run_config_path(sweep, *run), sweep_run_log_path(sweep, *run), jobs > 1)] = run;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    ++finished;
    failed += !ok;
    if (!quiet) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double eta = elapsed / double(finished) * double(pending.size() - finished);
      std::fprintf(stderr, "sweep: %zu of %zu runs done%s (%s %s), ETA %.0f min\n", before + finished, total,
                   failed ? (", " + std::to_string(failed) + " failed").c_str() : "", it->second->name.c_str(), ok ? "done" : "FAILED",
                   eta / 60);
    }
    running.erase(it);
  }
  return gather(sweep);
}

}  // namespace sq::cli
