#pragma once
// What a shell command prints on stdout, for benches that measure in child processes (a fresh
// heap, thread pool and peak RSS per measurement).
#include <cstdio>
#include <string>

inline std::string command_output(const std::string& cmd) {
  std::fflush(stdout);
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  if (p) pclose(p);
  return out;
}
