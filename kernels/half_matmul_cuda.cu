#include <cuda_runtime.h>

#include "kernels/cuda_block_sum.h"
#include "kernels/cuda_check.h"
#include "kernels/kernel_impl.h"

namespace sq::kernels {
namespace {

constexpr int kThreads = kBlockThreads;
constexpr unsigned kMaxGridY = 65535;

// A block per (row, token), its threads striding over the columns (half.h's conversions, as the
// CPU twin's portable loop).
__global__ void half_matmul_kernel(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n) {
  const int64_t r = blockIdx.x;
  for (int64_t t = blockIdx.y; t < n; t += gridDim.y) {
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += kThreads) s += half_to_fp32(w[r * cols + c], kind) * x[t * cols + c];
    s = block_sum(s);
    if (threadIdx.x == 0) y[t * rows + r] = s;
  }
}

__global__ void widen_kernel(HalfKind kind, const uint16_t* h, float* out, int64_t count) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = half_to_fp32(h[i], kind);
}

}  // namespace

void half_matmul_cuda(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n) {
  half_matmul_kernel<<<dim3(unsigned(rows), unsigned(n < kMaxGridY ? n : kMaxGridY)), kThreads>>>(kind, w, x, y, rows, cols, n);
  cuda_check_launch("half-precision matmul");
}

void half_to_float_cuda(HalfKind kind, const uint16_t* h, float* out, int64_t count) {
  widen_kernel<<<unsigned((count + kThreads - 1) / kThreads), kThreads>>>(kind, h, out, count);
  cuda_check_launch("half-precision widening");
}

}  // namespace sq::kernels
