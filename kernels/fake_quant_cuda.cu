#include <cuda_runtime.h>

#include <string>

#include "kernels/fake_quant.h"
#include "kernels/fake_quant_math.h"

namespace sq::kernels {
namespace {

constexpr int kThreads = 256;

// One block per row: a shared-memory max reduction for the scale, then one pass to quantize.
__global__ void per_token_symmetric_kernel(const float* x, float* y, float* scales, int64_t cols,
                                           float qmax) {
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

bool check(cudaError_t e, const char* what, std::string* error) {
  if (e == cudaSuccess) return true;
  if (error) *error = std::string(what) + ": " + cudaGetErrorString(e);
  return false;
}

}  // namespace

bool fake_quant_per_token_symmetric_cuda(const float* x, float* y, float* scales, int64_t rows,
                                         int64_t cols, int bits, std::string* error) {
  if (bits < 2 || bits > 16) {
    if (error) *error = "fake quantization: bits must be 2..16";
    return false;
  }
  if (cuda_device_count() == 0) {
    if (error) *error = "no CUDA device available";
    return false;
  }
  const size_t bytes = static_cast<size_t>(rows * cols) * sizeof(float);
  float *dx = nullptr, *dy = nullptr, *ds = nullptr;
  bool ok = check(cudaMalloc(&dx, bytes), "cudaMalloc", error) &&
            check(cudaMalloc(&dy, bytes), "cudaMalloc", error) &&
            check(cudaMalloc(&ds, static_cast<size_t>(rows) * sizeof(float)), "cudaMalloc", error) &&
            check(cudaMemcpy(dx, x, bytes, cudaMemcpyHostToDevice), "cudaMemcpy", error);
  if (ok && rows > 0) {
    per_token_symmetric_kernel<<<static_cast<unsigned>(rows), kThreads>>>(dx, dy, ds, cols, symmetric_qmax(bits));
    ok = check(cudaGetLastError(), "kernel launch", error) &&
         check(cudaMemcpy(y, dy, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy", error) &&
         (!scales || check(cudaMemcpy(scales, ds, static_cast<size_t>(rows) * sizeof(float),
                                      cudaMemcpyDeviceToHost), "cudaMemcpy", error));
  }
  cudaFree(dx);
  cudaFree(dy);
  cudaFree(ds);
  return ok;
}

}  // namespace sq::kernels
