#include <cuda_runtime.h>

#include "kernels/cuda_check.h"
#include "kernels/hadamard_math.h"
#include "kernels/kernel_impl.h"

namespace sq::kernels {
namespace {

constexpr int kThreads = 256;

// A block per row: each stage's n / 2 butterflies spread over the threads, a barrier between
// stages.
__global__ void hadamard_kernel(float* x, int64_t n, float scale) {
  float* row = x + int64_t(blockIdx.x) * n;
  for (int64_t h = 1; h < n; h *= 2) {
    for (int64_t p = threadIdx.x; p < n / 2; p += kThreads) hadamard_butterfly(row, hadamard_pair(p, h), h);
    __syncthreads();
  }
  for (int64_t c = threadIdx.x; c < n; c += kThreads) row[c] *= scale;
}

}  // namespace

void hadamard_transform_cuda(float* x, int64_t rows, int64_t n, float scale) {
  hadamard_kernel<<<unsigned(rows), kThreads>>>(x, n, scale);
  cuda_check_launch("Walsh-Hadamard transform");
}

}  // namespace sq::kernels
