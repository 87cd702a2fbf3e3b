// `safequant efficacy`: every method on the demo zoo's models, over calibration seeds, with the
// McNemar tests and goals, written as a Markdown report (and JSON beside it). With --zoo-seeds,
// the same over several zoos: each seed's zoo trained (or reused) and its table made by commands of
// their own, --jobs at a time, then gathered into one report of medians, ranges and goals held.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "app/cli/child_process.h"
#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/error.h"
#include "core/experiment/efficacy.h"
#include "core/experiment/efficacy_seeds.h"
#include "core/experiment/slurm.h"
#include "core/run/resources.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"
#include "core/zoo/zoo.h"

namespace sq::cli {

namespace {

namespace fs = std::filesystem;

// The options a zoo's own table passes on, as given.
const char* const kTableOptions[] = {"seeds", "models", "schemes", "methods", "max-new", "judge", "judge-format", "no-judge"};

std::string quoted_values(const Args& a, const char* k) {
  std::string s = std::string(" --") + k;
  for (const std::string& v : a.all(k)) s += v.find_first_of(" ,'\"$") == std::string::npos ? " " + v : " '" + v + "'";
  return s;
}

// One seed's two stages: its zoo (trained or reused by `safequant zoo`), then its table.
struct SeedJob {
  uint64_t seed;
  int stage = 0;  // 0: zoo, 1: table, 2: done
  bool failed = false;
};

std::vector<std::string> stage_command(const SeedJob& j, const Args& a, const std::string& work) {
  const std::string zoo = seed_zoo_dir(j.seed);
  if (j.stage == 0) {
    std::vector<std::string> cmd = {"/proc/self/exe", "zoo", "--preset", "demo", "--seed", std::to_string(j.seed)};
    if (j.seed != 0) cmd.insert(cmd.end(), {"--out", zoo});
    cmd.push_back("--quiet");
    return cmd;
  }
  std::vector<std::string> cmd = {"/proc/self/exe", "efficacy", "--zoo", zoo, "--work", seed_efficacy_runs(work, j.seed),
                                  "--out", seed_efficacy_report(work, j.seed)};
  for (const char* k : kTableOptions)
    if (a.has(k)) {
      cmd.push_back(std::string("--") + k);
      for (const std::string& v : a.all(k)) cmd.push_back(v);
    }
  cmd.push_back("--quiet");
  return cmd;
}

int run_zoo_seeds(const Args& a) {
  std::vector<uint64_t> seeds;
  try {
    seeds = parse_zoo_seeds(a.get("zoo-seeds"));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  const int jobs = a.get_int("jobs", 1);
  if (jobs < 1) throw UsageError("--jobs must be at least 1");
  // Absolute: a cluster's tasks may start elsewhere.
  const std::string work = fs::absolute(a.get("work", (fs::path(cache_dir()) / "efficacy" / "zoo-seeds").string())).string();
  const std::string out = a.get("out", "docs/efficacy.md");
  std::string command = "safequant efficacy --zoo-seeds " + a.get("zoo-seeds");
  for (const char* k : kTableOptions)
    if (a.has(k)) command += quoted_values(a, k);
  command += " --out " + out;
  const bool quiet = a.has("quiet");
  const bool slurm = a.has("slurm") || a.has("emit-slurm");
  if (slurm && (a.has("gather") || a.has("jobs"))) throw UsageError("--slurm and --emit-slurm take neither --gather nor --jobs");
  if (slurm) {
    // A task per seed: its zoo, then its table, each logged where a local run logs it; then the report.
    SlurmJob job;
    job.name = "safequant-efficacy";
    job.about = "One zoo seed per task: its zoo (trained or reused), then its efficacy table; a complete one is reused.";
    for (uint64_t s : seeds) {
      fs::create_directories(fs::path(seed_efficacy_report(work, s)).parent_path());
      std::vector<SlurmCommand> task;
      for (int stage : {0, 1}) {
        std::vector<std::string> cmd = stage_command({s, stage}, a, work);
        cmd.erase(cmd.begin());  // the executable: the scripts name it
        cmd.pop_back();          // --quiet: every task command gets it
        task.push_back({cmd, (fs::path(seed_efficacy_report(work, s)).parent_path() / (stage == 0 ? "zoo.log" : "efficacy.log")).string()});
      }
      job.tasks.push_back(task);
    }
    job.gather = {"efficacy", "--zoo-seeds", a.get("zoo-seeds"), "--work", fs::absolute(work).string(), "--out", fs::absolute(out).string(), "--gather"};
    for (const char* k : kTableOptions)
      if (a.has(k)) {
        job.gather.push_back(std::string("--") + k);
        for (const std::string& v : a.all(k)) job.gather.push_back(v);
      }
    const std::string dir = a.has("emit-slurm") ? a.get("emit-slurm") : (fs::path(work) / "slurm").string();
    const SlurmScripts scripts = write_slurm_job(job, dir, slurm_options(a));
    if (!a.has("slurm")) {
      std::fprintf(stderr, "efficacy: %zu zoo seeds as a Slurm job array; submit with %s\n", seeds.size(), scripts.submit.c_str());
      std::printf("%s\n", scripts.dir.c_str());
      return 0;
    }
    const std::string ids = submit_slurm_job(scripts);
    std::fprintf(stderr, "efficacy: submitted %zu zoo seeds as Slurm jobs %s(array, then the report into %s)\n", seeds.size(), ids.c_str(),
                 out.c_str());
    return 0;
  }
  if (!a.has("gather")) {
    std::vector<SeedJob> todo;
    for (uint64_t s : seeds) {
      fs::create_directories(fs::path(seed_efficacy_report(work, s)).parent_path());
      todo.push_back({s});
    }
    if (!quiet)
      std::fprintf(stderr, "efficacy: %zu zoo seeds, %d at a time; each seed's logs in %s/seed-<N>/\n", seeds.size(), jobs, work.c_str());
    const auto t0 = std::chrono::steady_clock::now();
    std::map<pid_t, SeedJob*> running;
    size_t next = 0, finished = 0;
    auto start = [&](SeedJob& j) {
      const std::string log = (fs::path(seed_efficacy_report(work, j.seed)).parent_path() / (j.stage == 0 ? "zoo.log" : "efficacy.log")).string();
      running[spawn(stage_command(j, a, work), log, side_by_side_env(jobs > 1))] = &j;
    };
    while (next < todo.size() || !running.empty()) {
      while (next < todo.size() && int(running.size()) < jobs) start(todo[next++]);
      int status = 0;
      const pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) break;
      auto it = running.find(pid);
      if (it == running.end()) continue;
      SeedJob& j = *it->second;
      running.erase(it);
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      const char* what = j.stage == 0 ? "zoo" : "table";
      if (ok && j.stage == 0) {
        j.stage = 1;
        if (!quiet) std::fprintf(stderr, "efficacy: seed %llu: zoo ready in %s\n", (unsigned long long)j.seed, seed_zoo_dir(j.seed).c_str());
        start(j);
        continue;
      }
      j.failed = !ok;
      j.stage = 2;
      ++finished;
      if (!quiet) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "efficacy: %zu of %zu zoo seeds done (seed %llu: %s%s), ETA %.0f min\n", finished, todo.size(),
                     (unsigned long long)j.seed, ok ? "done" : "FAILED at its ", ok ? "" : what,
                     elapsed / double(finished) * double(todo.size() - finished) / 60);
      }
    }
  }
  const EfficacySeedsReport r = gather_efficacy_seeds(seeds, work, out, command);
  std::printf("%s", r.markdown.c_str());
  for (const std::string& s : r.missing)
    std::fprintf(stderr, "efficacy: seed %s has no table; its logs: %s\n", s.c_str(),
                 fs::path(seed_efficacy_report(work, std::stoull(s))).parent_path().c_str());
  for (const std::string& g : r.goals_not_holding) std::fprintf(stderr, "efficacy: GOAL DOES NOT HOLD: %s\n", g.c_str());
  return r.missing.empty() ? 0 : 1;
}

}  // namespace

int run_efficacy(const Args& a) {
  if (a.has("zoo-seeds")) {
    if (a.has("zoo")) throw UsageError("--zoo-seeds and --zoo exclude each other");
    return run_zoo_seeds(a);
  }
  if (a.has("jobs") || a.has("gather")) throw UsageError("--jobs and --gather go with --zoo-seeds");
  EfficacyOptions o;
  o.zoo = a.get("zoo", demo_zoo_dir());
  o.seeds = a.get_int("seeds", 3);
  if (o.seeds < 1) throw UsageError("--seeds must be at least 1");
  if (a.has("models")) o.models = a.all("models");
  for (const std::string& m : o.models)
    if (m != "finetuned" && m != "aligned") throw UsageError("--models takes finetuned and/or aligned");
  if (a.has("schemes")) o.schemes = a.all("schemes");
  if (a.has("methods")) {
    o.methods.clear();
    for (const std::string& name : a.all("methods")) {
      bool known = false;
      for (EfficacyMethod m : efficacy_methods())
        if (name == efficacy_method_name(m)) o.methods.push_back(m), known = true;
      if (!known) throw UsageError("unknown method '" + name + "' (RTN, GPTQ, LWC+LET, Q-realign, 'Q-realign, random probes', AAQ)");
    }
  }
  // Beside the zoo's name in the user's cache, never inside the zoo (the shipped one is read-only).
  o.work = a.get("work", (fs::path(cache_dir()) / "efficacy" /
                          (fs::path(o.zoo).parent_path().filename().string() + "-" + fs::path(o.zoo).filename().string()))
                             .string());
  o.out = a.get("out", "docs/efficacy.md");
  o.max_new_tokens = a.get_int("max-new", 32);
  if (a.has("judge") && a.has("no-judge")) throw UsageError("--judge and --no-judge exclude each other");
  if (a.has("judge")) o.judge = a.get("judge"), o.judge_format = a.get("judge-format", "llama-guard-3");
  else if (a.has("judge-format")) throw UsageError("--judge-format goes with --judge DIR");
  o.zoo_judge = !a.has("no-judge");
  o.command = "safequant efficacy";
  for (const char* k : kTableOptions)
    if (a.has(k) && std::string(k) != "max-new") o.command += quoted_values(a, k);
  o.command += " --out " + o.out;
  o.progress = progress_bar(a);
  sq::start_thread_fitting();
  const EfficacyResult r = run_efficacy(o);
  std::printf("%s", r.markdown.c_str());
  for (const std::string& g : r.goals_missed) std::fprintf(stderr, "efficacy: GOAL MISSED: %s\n", g.c_str());
  return 0;
}

}  // namespace sq::cli
