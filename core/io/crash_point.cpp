#include "core/io/crash_point.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sq {

void crash_point(const char* step) {
  static const char* at = std::getenv("SAFEQUANT_CRASH_AT");
  if (!at || !*at) return;
  static const long nth = std::strtol(at, nullptr, 10);
  static std::atomic<long> reached{0};
  const long n = ++reached;
  if (nth > 0 ? n != nth : std::strcmp(at, step) != 0) return;
  std::fprintf(stderr, "crash point %ld: %s\n", n, step);
  std::fflush(stderr);
  std::raise(SIGKILL);
}

}  // namespace sq
