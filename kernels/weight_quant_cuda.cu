#include <cuda_runtime.h>

#include "kernels/fake_quant.h"
#include "kernels/weight_quant.h"

namespace sq::kernels {
namespace {

// One thread per group: groups are small (32..128) and many.
__global__ void weight_kernel(const float* w, float* y, int64_t n_groups, int64_t group, int bits, GridKind kind) {
  const int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= n_groups) return;
  const GroupParams p = group_params(w + g * group, group, bits, kind, 1.f);
  for (int64_t i = 0; i < group; ++i) y[g * group + i] = dequantize_value(quantize_value(w[g * group + i], p, bits, kind), p, kind);
}

// One thread per group: the group's reductions and its backward, as the CPU twin does them.
__global__ void ste_backward_kernel(const float* w, const float* gy, const float* clip, float* gw, float* gclip,
                                    int64_t n_groups, int64_t group, int bits, GridKind kind) {
  const int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= n_groups) return;
  gclip[g] = ste_group_backward(w + g * group, gy + g * group, gw + g * group, group, bits, kind, clip[g]);
}

}  // namespace

bool fake_quant_weight_ste_backward_cuda(const float* w, const float* grad_y, const float* clip, float* grad_w, float* grad_clip,
                                         int64_t rows, int64_t cols, const WeightGridSpec& spec, std::string* error) {
  if (cuda_device_count() == 0) {
    if (error) *error = "no CUDA device available";
    return false;
  }
  const int64_t group = spec.group > 0 ? spec.group : cols, n_groups = rows * cols / group;
  const size_t bytes = size_t(rows * cols) * sizeof(float), gbytes = size_t(n_groups) * sizeof(float);
  float *dw = nullptr, *dgy = nullptr, *dclip = nullptr, *dgw = nullptr, *dgclip = nullptr;
  bool ok = cudaMalloc(&dw, bytes) == cudaSuccess && cudaMalloc(&dgy, bytes) == cudaSuccess &&
            cudaMalloc(&dgw, bytes) == cudaSuccess && cudaMalloc(&dclip, gbytes) == cudaSuccess &&
            cudaMalloc(&dgclip, gbytes) == cudaSuccess && cudaMemcpy(dw, w, bytes, cudaMemcpyHostToDevice) == cudaSuccess &&
            cudaMemcpy(dgy, grad_y, bytes, cudaMemcpyHostToDevice) == cudaSuccess &&
            cudaMemcpy(dclip, clip, gbytes, cudaMemcpyHostToDevice) == cudaSuccess;
  if (ok) {
    ste_backward_kernel<<<unsigned((n_groups + 127) / 128), 128>>>(dw, dgy, dclip, dgw, dgclip, n_groups, group, spec.bits, spec.kind);
    ok = cudaGetLastError() == cudaSuccess && cudaMemcpy(grad_w, dgw, bytes, cudaMemcpyDeviceToHost) == cudaSuccess &&
         cudaMemcpy(grad_clip, dgclip, gbytes, cudaMemcpyDeviceToHost) == cudaSuccess;
  }
  if (!ok && error) *error = std::string("CUDA straight-through backward failed: ") + cudaGetErrorString(cudaGetLastError());
  for (float* p : {dw, dgy, dclip, dgw, dgclip}) cudaFree(p);
  return ok;
}

bool fake_quant_weight_cuda(const float* w, float* y, int64_t rows, int64_t cols, const WeightGridSpec& spec,
                            std::string* error) {
  if (cuda_device_count() == 0) {
    if (error) *error = "no CUDA device available";
    return false;
  }
  const int64_t group = spec.group > 0 ? spec.group : cols, n_groups = rows * cols / group;
  const size_t bytes = size_t(rows * cols) * sizeof(float);
  float *dw = nullptr, *dy = nullptr;
  bool ok = cudaMalloc(&dw, bytes) == cudaSuccess && cudaMalloc(&dy, bytes) == cudaSuccess &&
            cudaMemcpy(dw, w, bytes, cudaMemcpyHostToDevice) == cudaSuccess;
  if (ok) {
    weight_kernel<<<unsigned((n_groups + 127) / 128), 128>>>(dw, dy, n_groups, group, spec.bits, spec.kind);
    ok = cudaGetLastError() == cudaSuccess && cudaMemcpy(y, dy, bytes, cudaMemcpyDeviceToHost) == cudaSuccess;
  }
  if (!ok && error) *error = std::string("CUDA weight quantization failed: ") + cudaGetErrorString(cudaGetLastError());
  cudaFree(dw);
  cudaFree(dy);
  return ok;
}

}  // namespace sq::kernels
