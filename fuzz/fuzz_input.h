#pragma once
// What every fuzz target shares: the input as a file for readers that take a path (written to
// one scratch file per process, in memory-backed /dev/shm when there is one), and the rule that
// a reader may refuse an input only with sq::Error — any other exception (a raw JSON or standard
// library message, std::bad_alloc) is a finding, so the target aborts and the fuzzer records it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <unistd.h>

#include "core/error.h"

namespace sq::fuzz {

// Writes the input to this process's scratch file with `extension`, and returns its path.
inline std::string as_file(const uint8_t* data, size_t size, const std::string& extension) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/sq-fuzz-" + std::to_string(getpid()) + extension;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  return path;
}

template <class F>
int refused_only_by_name(F&& read) {
  try {
    read();
  } catch (const sq::Error& e) {
    // A clear refusal naming the file: what hostile input should get. SQ_FUZZ_VERBOSE=1 prints
    // it, to see why a seed is refused.
    static const bool verbose = std::getenv("SQ_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: not an sq::Error: %s\n", e.what());
    std::abort();
  }
  return 0;
}

}  // namespace sq::fuzz
