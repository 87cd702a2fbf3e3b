// Each kernel's entry point: checks the arguments once, for both implementations, then runs the
// one for the data's device.
#include "kernels/fake_quant.h"
#include "kernels/kernel_impl.h"
#include "kernels/weight_quant.h"

namespace sq::kernels {
namespace {

int64_t checked_group(int64_t cols, const WeightGridSpec& spec) {
  const int64_t group = spec.group > 0 ? spec.group : cols;
  if (group <= 0 || cols % group != 0) throw KernelError("weight quantization: columns are not a multiple of the group size");
  if (spec.bits < 2 || spec.bits > 8) throw KernelError("weight quantization: bits must be 2..8");
  return group;
}

}  // namespace

void require(Device device) {
  if (device == Device::Cpu) return;
  if (!cuda_compiled()) throw KernelError("this build of SafeQuant has no CUDA kernels (configured without nvcc)");
  if (cuda_device_count() == 0) throw KernelError("no CUDA device available");
}

void fake_quant_per_token_symmetric(Device device, const float* x, float* y, float* scales, int64_t rows, int64_t cols,
                                    int bits) {
  if (bits < 2 || bits > 16) throw KernelError("fake quantization: bits must be 2..16");
  require(device);
  if (rows <= 0 || cols <= 0) return;
  (device == Device::Cpu ? fake_quant_per_token_symmetric_cpu : fake_quant_per_token_symmetric_cuda)(x, y, scales, rows, cols, bits);
}

void fake_quant_weight(Device device, const float* w, float* y, int64_t rows, int64_t cols, const WeightGridSpec& spec,
                       const float* clip, int32_t* codes, float* scales, float* zeros) {
  checked_group(cols, spec);
  require(device);
  if (rows <= 0) return;
  (device == Device::Cpu ? fake_quant_weight_cpu : fake_quant_weight_cuda)(w, y, rows, cols, spec, clip, codes, scales, zeros);
}

void fake_quant_with_params(Device device, const float* x, float* y, int32_t* codes, int64_t n, const GroupParams* params,
                            int bits, GridKind kind) {
  if (bits < 2 || bits > 8) throw KernelError("weight quantization: bits must be 2..8");
  require(device);
  if (n <= 0) return;
  (device == Device::Cpu ? fake_quant_with_params_cpu : fake_quant_with_params_cuda)(x, y, codes, n, params, bits, kind);
}

void fake_quant_weight_ste_backward(Device device, const float* w, const float* grad_y, const float* clip, float* grad_w,
                                    float* grad_clip, int64_t rows, int64_t cols, const WeightGridSpec& spec) {
  checked_group(cols, spec);
  if (spec.kind != GridKind::Symmetric && spec.kind != GridKind::Asymmetric)
    throw KernelError("straight-through backward: llama.cpp block grids have no learnable range");
  require(device);
  if (rows <= 0) return;
  (device == Device::Cpu ? fake_quant_weight_ste_backward_cpu : fake_quant_weight_ste_backward_cuda)(w, grad_y, clip, grad_w,
                                                                                                     grad_clip, rows, cols, spec);
}

}  // namespace sq::kernels
