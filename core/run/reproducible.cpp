#include "core/run/reproducible.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/run/blas_kernels.h"

namespace sq {

const std::vector<std::pair<std::string, std::string>>& reproducible_environment() {
  // oneDNN is held to AVX2 as well, for any operation ATen hands it.
  static const std::vector<std::pair<std::string, std::string>> env = {
      {"ATEN_CPU_CAPABILITY", "avx2"}, {"OPENBLAS_CORETYPE", "Haswell"}, {"ONEDNN_MAX_CPU_ISA", "AVX2"}};
  return env;
}

namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown CPU";
}

// ATen exports its kernel choice only through its configuration text ("CPU capability usage: AVX2").
std::string aten_capability() {
  const std::string config = at::show_config(), key = "CPU capability usage: ";
  const size_t at = config.find(key);
  if (at == std::string::npos) return "unknown";
  std::string name = config.substr(at + key.size(), config.find('\n', at) - at - key.size());
  for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return name == "no avx" ? "default" : name;
}

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

ComputeSettings compute_settings() {
  ComputeSettings s;
  s.aten_capability = aten_capability();
  s.blas = blas_name();
  s.cpu = cpu_model_name();
  s.cpu_has_avx2_fma = cpu_has_avx2_fma();
  return s;
}

std::vector<std::string> reproducibility_problems() {
  std::vector<std::string> problems;
  const ComputeSettings s = compute_settings();
  if (!s.cpu_has_avx2_fma) problems.push_back("this CPU (" + s.cpu + ") lacks AVX2 and FMA");
  if (s.aten_capability != "avx2") problems.push_back("ATen computes with its " + s.aten_capability + " kernels, not avx2");
  if (s.blas.rfind("OpenBLAS", 0) == 0 && s.blas != "OpenBLAS Haswell")
    problems.push_back(s.blas + " kernels, not Haswell's");
  if (at::get_num_threads() != kReproducibleThreads)
    problems.push_back(std::to_string(at::get_num_threads()) + " threads, not " + std::to_string(kReproducibleThreads));
  return problems;
}

void reexec_reproducible(char** argv) {
  bool pinned = true;
  for (const auto& [name, value] : reproducible_environment()) {
    const char* now = std::getenv(name.c_str());
    pinned = pinned && now && value == now;
  }
  if (pinned) return;
  // ATen would take "avx2" on trust and stop at the first AVX2 instruction.
  if (!cpu_has_avx2_fma())
    throw Error("the demo models train the same on every machine only with AVX2 and FMA, which this CPU (" + cpu_model_name() +
                ") lacks; the zoo shipped with SafeQuant needs no training");
  for (const auto& [name, value] : reproducible_environment()) setenv(name.c_str(), value.c_str(), 1);
  execv("/proc/self/exe", argv);
  throw Error(std::string("cannot start again under the pinned settings (/proc/self/exe): ") + std::strerror(errno));
}

}  // namespace sq
