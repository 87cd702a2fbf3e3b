#include "app/cli/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <memory>

namespace sq::cli {

namespace {

// How often a long stage writes a line when stderr is not a terminal: every 10 s, or
// $SAFEQUANT_PROGRESS_SECONDS.
double log_interval_seconds() {
  const char* env = std::getenv("SAFEQUANT_PROGRESS_SECONDS");
  if (!env || !*env) return 10;
  char* end = nullptr;
  const double s = std::strtod(env, &end);
  return *end == 0 && s >= 0 ? s : 10;
}

}  // namespace

Progress progress_bar(const Args& args) {
  Progress p;
  if (args.has("quiet")) return p;
  using clock = std::chrono::steady_clock;
  // When each unfinished stage began. Stages nest (a training stage evaluates between its steps),
  // so a stage's time runs from its first step to its last, whatever reported in between.
  struct Stages {
    std::map<std::string, clock::time_point> started;
    std::string finished;  // the stage that finished last, when nothing reported since
    clock::time_point last_line = clock::now();  // a log's last line
  };
  auto stages = std::make_shared<Stages>();
  const bool terminal = ::isatty(STDERR_FILENO);
  const double interval = log_interval_seconds();
  p.report = [stages, terminal, interval](int64_t done, int64_t total, const std::string& stage) {
    const auto now = clock::now();
    auto& started = stages->started;
    auto it = started.find(stage);
    if (it == started.end() && done >= total && stage == stages->finished) return;  // a repeated last step
    stages->finished.clear();
    if (it == started.end() || done == 0) it = started.insert_or_assign(stage, now).first;
    const double elapsed = std::chrono::duration<double>(now - it->second).count();
    if (done >= total) {
      // A log keeps the stages that took a second or more; a terminal replaces its line with each.
      if (terminal || elapsed >= 1.0)
        std::fprintf(stderr, "%s%s  %lld/%lld  in %.1f s\n", terminal ? "\r\033[K" : "", stage.c_str(), (long long)done,
                     (long long)total, elapsed);
      started.erase(it);
      stages->finished = stage;
      stages->last_line = now;
    } else if (terminal) {
      const double eta = done > 0 ? elapsed / double(done) * double(total - done) : 0;
      std::fprintf(stderr, "\r\033[K%s  %lld/%lld  ETA %.0fs", stage.c_str(), (long long)done, (long long)total, eta);
    } else if (done > 0 && std::chrono::duration<double>(now - stages->last_line).count() >= interval) {
      // A log (a pipe, a batch job's file) gets a line now and then during a long stage, not
      // only when it ends: stage, count, rate and time left.
      const double rate = double(done) / std::max(elapsed, 1e-9);
      std::fprintf(stderr, "%s  %lld/%lld  %.3g/s  ETA %.0f s\n", stage.c_str(), (long long)done, (long long)total, rate,
                   double(total - done) / rate);
      stages->last_line = now;
    }
    std::fflush(stderr);
  };
  return p;
}

}  // namespace sq::cli
