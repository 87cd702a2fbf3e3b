#include "core/run/threads.h"

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace sq {
namespace {

std::atomic<int> g_fitted{0};  // 0: fitting not started, the calling thread's count stands
std::string g_policy = "LibTorch's default";

struct Sample {
  double busy = 0, total = 0, own = 0;  // clock ticks: all cores' busy and total time, this process's CPU time
};

// False when /proc cannot be read (then the count stays at every core).
bool sample(Sample& s) {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user, nice, system, idle, iowait, irq, softirq, steal;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return false;
  // Time the hypervisor gave to other machines is as unavailable as time other processes took.
  s.busy = user + nice + system + irq + softirq + steal;
  s.total = s.busy + idle + iowait;
  std::ifstream self("/proc/self/stat");
  std::string line;
  if (!std::getline(self, line)) return false;
  // Fields after the command name (which may hold spaces, so after the last ')'): utime and
  // stime are the 12th and 13th.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 1; i <= 13 && rest >> field; ++i) {
    if (i == 12) utime = std::atof(field.c_str());
    if (i == 13) stime = std::atof(field.c_str());
  }
  s.own = utime + stime;
  return true;
}

void watch(int cores) {
  Sample before;
  if (!sample(before)) return;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    Sample now;
    if (!sample(now)) return;
    const double total = now.total - before.total;
    if (total <= 0) continue;
    // The cores the other processes kept busy over the window.
    const double others = std::max(0.0, (now.busy - before.busy) - (now.own - before.own)) / total * cores;
    before = now;
    g_fitted.store(std::max(1, std::min(cores, cores - int(std::lround(others)))), std::memory_order_relaxed);
  }
}

}  // namespace

void start_thread_fitting() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* set = std::getenv("OMP_NUM_THREADS"); set && std::atoi(set) > 0) {
      g_policy = "fixed by OMP_NUM_THREADS";
      return;  // LibTorch read it already
    }
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    g_policy = "fitted to the free cores of " + std::to_string(cores);
    g_fitted.store(cores);
    std::thread(watch, cores).detach();
    fit_threads();
  });
}

// Per thread, as OpenMP keeps it: the count this thread last set, and whether it is held.
thread_local int t_applied = 0;
thread_local int t_every_core = 0;

void fit_threads() {
  const int want = g_fitted.load(std::memory_order_relaxed);
  if (t_every_core == 0 && want > 0 && want != t_applied) {
    at::set_num_threads(want);
    t_applied = want;
  }
}

int every_core_count() {
  if (const char* set = std::getenv("OMP_NUM_THREADS"); set && std::atoi(set) > 0) return std::atoi(set);
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

HeldThreadsScope::HeldThreadsScope(int threads) : before_(at::get_num_threads()) {
  ++t_every_core;
  at::set_num_threads(threads > 0 ? threads : every_core_count());
}

HeldThreadsScope::~HeldThreadsScope() {
  --t_every_core;
  at::set_num_threads(before_);
  t_applied = before_;
}

int fitted_threads() { return g_fitted.load() > 0 ? g_fitted.load() : at::get_num_threads(); }

const char* thread_policy() { return g_policy.c_str(); }

}  // namespace sq
