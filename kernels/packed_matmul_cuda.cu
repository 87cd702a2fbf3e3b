#include <cuda_runtime.h>

#include "kernels/cuda_block_sum.h"
#include "kernels/cuda_check.h"
#include "kernels/kernel_impl.h"
#include "kernels/packed_math.h"

namespace sq::kernels {
namespace {

constexpr int kThreads = kBlockThreads;
constexpr unsigned kMaxGridY = 65535;

// A block per (row, token): its threads stride over the columns, dequantizing as the CPU twin's
// portable loop does (packed_weight).
__global__ void matmul_kernel(PackedWeights w, const float* x, float* y, int64_t n) {
  const int64_t r = blockIdx.x;
  for (int64_t t = blockIdx.y; t < n; t += gridDim.y) {
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < w.cols; c += kThreads) s += packed_weight(w, r, c) * x[t * w.cols + c];
    s = block_sum(s);
    if (threadIdx.x == 0) y[t * w.rows + r] = s;
  }
}

// A block per token row: its largest magnitude, then its codes (activation_code).
__global__ void quantize_rows_kernel(const float* x, int8_t* codes, float* scales, int64_t cols, float qmax) {
  const int64_t t = blockIdx.x;
  __shared__ float warp_max[kThreads / 32];
  __shared__ float row_scale;
  float amax = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) amax = fmaxf(amax, fabsf(x[t * cols + c]));
  for (int o = 16; o > 0; o /= 2) amax = fmaxf(amax, __shfl_down_sync(0xffffffffu, amax, o));
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
  __syncthreads();
  if (threadIdx.x == 0) {
    float m = 0.f;
    for (int i = 0; i < kThreads / 32; ++i) m = fmaxf(m, warp_max[i]);
    row_scale = symmetric_scale(m, qmax);
    scales[t] = row_scale;
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) codes[t * cols + c] = activation_code(x[t * cols + c], row_scale, qmax);
}

__global__ void matmul_int_kernel(PackedWeights w, const int8_t* codes, const float* scales, float* y, int64_t n) {
  const int64_t r = blockIdx.x;
  for (int64_t t = blockIdx.y; t < n; t += gridDim.y) {
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < w.cols; c += kThreads) s += packed_weight(w, r, c) * float(codes[t * w.cols + c]);
    s = block_sum(s);
    if (threadIdx.x == 0) y[t * w.rows + r] = s * scales[t];
  }
}

__global__ void dequantize_kernel(PackedWeights w, int64_t row0, int64_t n_rows, float* out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_rows * w.cols) return;
  out[i] = packed_weight(w, row0 + i / w.cols, i % w.cols);
}

dim3 grid(const PackedWeights& w, int64_t n) { return dim3(unsigned(w.rows), unsigned(n < kMaxGridY ? n : kMaxGridY)); }

}  // namespace

void packed_matmul_cuda(const PackedWeights& w, const float* x, float* y, int64_t n) {
  matmul_kernel<<<grid(w, n), kThreads>>>(w, x, y, n);
  cuda_check_launch("packed matmul");
}

void packed_matmul_int_cuda(const PackedWeights& w, const float* x, float* y, int64_t n, int act_bits) {
  int8_t* codes = nullptr;
  float* scales = nullptr;
  cuda_check(cudaMalloc(&codes, size_t(n * w.cols)), "allocating activation codes");
  if (cudaMalloc(&scales, size_t(n) * sizeof(float)) != cudaSuccess) {
    cudaFree(codes);
    throw KernelError("CUDA allocating activation scales: out of memory");
  }
  quantize_rows_kernel<<<unsigned(n), kThreads>>>(x, codes, scales, w.cols, symmetric_qmax(act_bits));
  const cudaError_t quantized = cudaGetLastError();
  if (quantized == cudaSuccess) matmul_int_kernel<<<grid(w, n), kThreads>>>(w, codes, scales, y, n);
  const cudaError_t launched = quantized == cudaSuccess ? cudaGetLastError() : quantized;
  const cudaError_t done = cudaDeviceSynchronize();
  cudaFree(codes);
  cudaFree(scales);
  cuda_check(launched, "integer matmul");
  cuda_check(done, "integer matmul");
}

void packed_dequantize_cuda(const PackedWeights& w, int64_t row0, int64_t n_rows, float* out) {
  const int64_t n = n_rows * w.cols;
  dequantize_kernel<<<unsigned((n + kThreads - 1) / kThreads), kThreads>>>(w, row0, n_rows, out);
  cuda_check_launch("packed dequantize");
}

}  // namespace sq::kernels
