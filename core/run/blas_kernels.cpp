#include "core/run/blas_kernels.h"

#include <unistd.h>

#include <cstdlib>

#include "core/run/reproducible.h"

namespace sq {

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
  if (compute_settings().blas != "OpenBLAS Prescott") return;
  const std::string kernels = blas_kernels_for_this_cpu();
  if (kernels.empty()) return;
  setenv("OPENBLAS_CORETYPE", kernels.c_str(), 1);
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // no restart: go on as loaded
}

}  // namespace sq
