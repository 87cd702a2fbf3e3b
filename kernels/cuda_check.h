#pragma once
// CUDA runtime failures as the kernels' one error. CUDA sources only.
#include <cuda_runtime.h>

#include <string>

#include "kernels/device.h"

namespace sq::kernels {

inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw KernelError(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

// After a launch: a bad configuration shows at once, a fault in the kernel at the next sync.
inline void cuda_check_launch(const char* kernel) {
  cuda_check(cudaGetLastError(), kernel);
  cuda_check(cudaDeviceSynchronize(), kernel);
}

}  // namespace sq::kernels
