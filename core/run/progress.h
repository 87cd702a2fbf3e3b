#pragma once
// What every long call takes: a sink for progress and a token to cancel it. Cancellation is
// cooperative: the call checks the token between units of work and throws sq::Cancelled.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "core/error.h"

namespace sq {

class CancelToken {
 public:
  void cancel() { flag_.store(true); }
  bool cancelled() const { return flag_.load(); }
  void check() const {
    if (cancelled()) throw Cancelled();
  }

 private:
  std::atomic<bool> flag_{false};
};

// done of total units of `stage` finished.
using ProgressFn = std::function<void(int64_t done, int64_t total, const std::string& stage)>;

struct Progress {
  ProgressFn report;
  const CancelToken* cancel = nullptr;

  void step(int64_t done, int64_t total, const std::string& stage) const {
    if (cancel) cancel->check();
    if (report) report(done, total, stage);
  }
};

}  // namespace sq
