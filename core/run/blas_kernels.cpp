#include "core/run/blas_kernels.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

namespace sq {

std::string blas_name() {
  using CoreName = char* (*)();
  if (auto* f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) return std::string("OpenBLAS ") + f();
  return "reference BLAS (not OpenBLAS)";
}

std::string blas_kernels_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

void reexec_with_fitting_blas(char** argv) {
  // The user's choice stands, and a process that set it already must not loop.
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  if (blas_name() != "OpenBLAS Prescott") return;
  const std::string kernels = blas_kernels_for_this_cpu();
  if (kernels.empty()) return;
  setenv("OPENBLAS_CORETYPE", kernels.c_str(), 1);
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // no restart: go on as loaded
}

}  // namespace sq
