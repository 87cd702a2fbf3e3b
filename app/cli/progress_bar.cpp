#include "app/cli/progress_bar.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace sq::cli {

Progress progress_bar(const Args& args) {
  Progress p;
  if (args.has("quiet")) return p;
  struct State {
    std::string stage;
    std::chrono::steady_clock::time_point start;
    bool finished = false;  // its line printed: a stage may report its last step twice
  };
  auto state = std::make_shared<State>();
  const bool terminal = ::isatty(STDERR_FILENO);
  p.report = [state, terminal](int64_t done, int64_t total, const std::string& stage) {
    const auto now = std::chrono::steady_clock::now();
    if (stage != state->stage || done == 0) {
      state->start = now;
      state->finished = false;
    }
    state->stage = stage;
    const double elapsed = std::chrono::duration<double>(now - state->start).count();
    if (done >= total) {
      if (!state->finished)
        std::fprintf(stderr, "%s%s  %lld/%lld  in %.1f s\n", terminal ? "\r\033[K" : "", stage.c_str(), (long long)done,
                     (long long)total, elapsed);
      state->finished = true;
    } else if (terminal) {
      const double eta = done > 0 ? elapsed / double(done) * double(total - done) : 0;
      std::fprintf(stderr, "\r\033[K%s  %lld/%lld  ETA %.0fs", stage.c_str(), (long long)done, (long long)total, eta);
    }
    std::fflush(stderr);
  };
  return p;
}

}  // namespace sq::cli
