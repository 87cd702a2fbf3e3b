#include "app/cli/progress_bar.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace sq::cli {

Progress progress_bar(const Args& args) {
  Progress p;
  if (args.has("quiet") || !::isatty(STDERR_FILENO)) return p;
  struct State {
    std::string stage;
    std::chrono::steady_clock::time_point start;
  };
  auto state = std::make_shared<State>();
  p.report = [state](int64_t done, int64_t total, const std::string& stage) {
    const auto now = std::chrono::steady_clock::now();
    if (stage != state->stage || done == 0) state->start = now;
    state->stage = stage;
    const double elapsed = std::chrono::duration<double>(now - state->start).count();
    const double eta = done > 0 && total > done ? elapsed / double(done) * double(total - done) : 0;
    std::fprintf(stderr, "\r\033[K%s  %lld/%lld  ETA %.0fs", stage.c_str(), (long long)done, (long long)total, eta);
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
  return p;
}

}  // namespace sq::cli
