// How jobs keep their speed when they share the machine: one `safequant eval` of the demo
// aligned model (held-out malicious and benign prompts, 24 new tokens) alone, then two at once;
// each job's speed beside the other as a fraction of its speed alone (a fair share is 0.5 on
// two cores; near 1.0 when one thread does the work as fast as two). As shipped (threads fitted
// to the free cores, core/run/threads.h) beside every core fixed (OMP_NUM_THREADS, what the
// product did before) and every core with passive OpenMP waiting.
//   bench_contention [ZOO_DIR] [SAFEQUANT]   (defaults: ~/.cache/safequant/zoo/demo, the built CLI)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

struct Setting {
  std::string name;
  std::vector<std::string> env;  // added to the environment; none: the product as it ships
};

// Starts one evaluation; returns its pid.
pid_t start(const std::vector<std::string>& args, const Setting& s) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0 && std::strncmp(*e, "OMP_WAIT_POLICY=", 16) != 0) env_text.emplace_back(*e);
  env_text.insert(env_text.end(), s.env.begin(), s.env.end());
  std::vector<char*> env, argv;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  std::vector<std::string> a = args;
  for (auto& x : a) argv.push_back(x.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &quiet, nullptr, argv.data(), env.data()) != 0) {
    std::perror("bench_contention: posix_spawn");
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&quiet);
  return pid;
}

void wait_ok(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_contention: an evaluation failed (status %d); run it by hand to see why\n", status);
    std::exit(1);
  }
}

// Wall seconds of `copies` evaluations started together (each ends on its own; the slowest counts).
double run(const std::vector<std::string>& args, const Setting& s, int copies) {
  const auto t0 = clock_type::now();
  std::vector<pid_t> pids;
  for (int i = 0; i < copies; ++i) pids.push_back(start(args, s));
  for (pid_t p : pids) wait_ok(p);
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double load() {
  double l = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  const char* home = std::getenv("HOME");
  const fs::path zoo = argc > 1 ? fs::path(argv[1]) : fs::path(home ? home : "/root") / ".cache/safequant/zoo/demo";
  const fs::path cli = argc > 2 ? fs::path(argv[2]) : fs::canonical("/proc/self/exe").parent_path().parent_path() / "app/safequant";
  if (!fs::exists(zoo / "aligned/config.json") || !fs::exists(cli)) {
    std::fprintf(stderr, "bench_contention: needs the demo zoo (%s: safequant zoo --preset demo) and the CLI (%s)\n", zoo.c_str(),
                 cli.c_str());
    return 1;
  }
  const std::vector<std::string> args = {cli.string(), "eval", "--model", (zoo / "aligned").string(), "--data",
                                         (zoo / "data/heldout_malicious.jsonl").string(), (zoo / "data/heldout_benign.jsonl").string(),
                                         "--max-new", "24", "--quiet"};
  const std::string every = "OMP_NUM_THREADS=" + std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  const Setting settings[] = {{"as shipped: fitted to the free cores", {}},
                              {"every core, fixed (" + every + ")", {every}},
                              {"every core, passive waiting", {every, "OMP_WAIT_POLICY=PASSIVE"}}};
  std::printf("%-42s %9s %13s %10s %6s\n", "threads", "alone s", "two at once s", "each keeps", "load");
  for (const Setting& s : settings) {
    const double l0 = load();
    const double alone = std::min(run(args, s, 1), run(args, s, 1));  // the better of two: the machine is shared
    const double both = run(args, s, 2);
    std::printf("%-42s %9.2f %13.2f %10.2f %6.2f\n", s.name.c_str(), alone, both, alone / both, (l0 + load()) / 2);
    std::fflush(stdout);
  }
  return 0;
}
