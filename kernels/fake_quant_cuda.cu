#include <cuda_runtime.h>

#include "kernels/cuda_check.h"
#include "kernels/fake_quant_math.h"
#include "kernels/kernel_impl.h"

namespace sq::kernels {
namespace {

constexpr int kThreads = 256;

// One block per row: a shared-memory max reduction for the scale, then one pass to quantize.
__global__ void per_token_symmetric_kernel(const float* x, float* y, float* scales, int64_t cols, float qmax) {
  __shared__ float partial[kThreads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float amax = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) amax = fmaxf(amax, fabsf(xr[c]));
  partial[threadIdx.x] = amax;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] = fmaxf(partial[threadIdx.x], partial[threadIdx.x + s]);
    __syncthreads();
  }
  const float scale = symmetric_scale(partial[0], qmax);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = fake_quant_symmetric(xr[c], scale, qmax);
  if (threadIdx.x == 0 && scales) scales[blockIdx.x] = scale;
}

}  // namespace

void fake_quant_per_token_symmetric_cuda(const float* x, float* y, float* scales, int64_t rows, int64_t cols, int bits) {
  per_token_symmetric_kernel<<<static_cast<unsigned>(rows), kThreads>>>(x, y, scales, cols, symmetric_qmax(bits));
  cuda_check_launch("per-token fake quantization");
}

}  // namespace sq::kernels
