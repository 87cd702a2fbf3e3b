#pragma once
// A field of this process's /proc/self/status, for the benches' memory figures.
#include <fstream>
#include <string>

// "VmRSS:" (resident now) or "VmHWM:" (peak resident) in kB, or -1 when the field is absent.
inline long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  const std::string k(key);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(k, 0) == 0) return std::stol(line.substr(k.size()));
  return -1;
}
