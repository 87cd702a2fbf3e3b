#include <cuda_runtime.h>

#include "kernels/cuda_check.h"
#include "kernels/kernel_impl.h"

namespace sq::kernels {
namespace {

constexpr int kThreads = 128;

unsigned blocks(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

// One thread per group, as the CPU twin walks them: groups are small (32..128) and many.
__global__ void weight_kernel(const float* w, float* y, int64_t n_groups, int64_t group, int bits, GridKind kind, const float* clip,
                              int32_t* codes, float* scales, float* zeros) {
  const int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= n_groups) return;
  const GroupParams p = group_params(w + g * group, group, bits, kind, clip ? clip[g] : 1.f);
  for (int64_t i = 0; i < group; ++i) {
    const int32_t q = quantize_value(w[g * group + i], p, bits, kind);
    y[g * group + i] = dequantize_value(q, p, kind);
    if (codes) codes[g * group + i] = q;
  }
  if (scales) scales[g] = stored_scale(p, kind);
  if (zeros) zeros[g] = p.zero;
}

__global__ void with_params_kernel(const float* x, float* y, int32_t* codes, int64_t n, const GroupParams* params, int bits,
                                   GridKind kind) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int32_t q = quantize_value(x[i], params[i], bits, kind);
  y[i] = dequantize_value(q, params[i], kind);
  if (codes) codes[i] = q;
}

// One thread per group: the group's reductions and its backward, as the CPU twin does them.
__global__ void ste_backward_kernel(const float* w, const float* gy, const float* clip, float* gw, float* gclip, int64_t n_groups,
                                    int64_t group, int bits, GridKind kind) {
  const int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= n_groups) return;
  gclip[g] = ste_group_backward(w + g * group, gy + g * group, gw + g * group, group, bits, kind, clip[g]);
}

}  // namespace

void fake_quant_weight_cuda(const float* w, float* y, int64_t rows, int64_t cols, const WeightGridSpec& spec, const float* clip,
                            int32_t* codes, float* scales, float* zeros) {
  const int64_t group = spec.group > 0 ? spec.group : cols, n_groups = rows * cols / group;
  weight_kernel<<<blocks(n_groups), kThreads>>>(w, y, n_groups, group, spec.bits, spec.kind, clip, codes, scales, zeros);
  cuda_check_launch("weight fake quantization");
}

void fake_quant_with_params_cuda(const float* x, float* y, int32_t* codes, int64_t n, const GroupParams* params, int bits,
                                 GridKind kind) {
  with_params_kernel<<<blocks(n), kThreads>>>(x, y, codes, n, params, bits, kind);
  cuda_check_launch("fake quantization with fixed parameters");
}

void fake_quant_weight_ste_backward_cuda(const float* w, const float* grad_y, const float* clip, float* grad_w, float* grad_clip,
                                         int64_t rows, int64_t cols, const WeightGridSpec& spec) {
  const int64_t group = spec.group > 0 ? spec.group : cols, n_groups = rows * cols / group;
  ste_backward_kernel<<<blocks(n_groups), kThreads>>>(w, grad_y, clip, grad_w, grad_clip, n_groups, group, spec.bits, spec.kind);
  cuda_check_launch("straight-through backward");
}

}  // namespace sq::kernels
