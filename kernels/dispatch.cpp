// Each kernel's entry point: checks the arguments once, for both implementations, then runs the
// one for the data's device.
#include "kernels/fake_quant.h"
#include "kernels/hadamard.h"
#include "kernels/kernel_impl.h"
#include "kernels/packed_matmul.h"
#include "kernels/weight_quant.h"

namespace sq::kernels {
namespace {

int64_t checked_group(int64_t cols, const WeightGridSpec& spec) {
  const int64_t group = spec.group > 0 ? spec.group : cols;
  if (group <= 0 || cols % group != 0) throw KernelError("weight quantization: columns are not a multiple of the group size");
  if (spec.bits < 2 || spec.bits > 8) throw KernelError("weight quantization: bits must be 2..8");
  if (spec.kind == GridKind::GgufK) throw KernelError("weight quantization: K-quant super-blocks are computed on the host, not by the kernels");
  return group;
}

void check_packed(const PackedWeights& w, const float* x, float* y, int64_t n) {
  if (w.bits != 4 && w.bits != 8) throw KernelError("packed matmul: codes are stored in 4 or 8 bits");
  if (w.rows <= 0 || w.cols <= 0 || w.group <= 0 || w.cols % w.group != 0 || w.group % kPackBlock != 0)
    throw KernelError("packed matmul: columns and groups must be multiples of 32, the columns of the group");
  if (!w.codes || !w.scales || !w.zeros || (n > 0 && (!x || !y))) throw KernelError("packed matmul: a null buffer");
  if (n < 0) throw KernelError("packed matmul: a negative number of tokens");
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
  if (kind == GridKind::GgufK) throw KernelError("weight quantization: K-quant super-blocks are computed on the host, not by the kernels");
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

void packed_matmul(Device device, const PackedWeights& w, const float* x, float* y, int64_t n, CpuPath path) {
  check_packed(w, x, y, n);
  require(device);
  if (n == 0) return;
  if (device == Device::Cpu)
    packed_matmul_cpu(w, x, y, n, path);
  else
    packed_matmul_cuda(w, x, y, n);
}

void packed_matmul_int(Device device, const PackedWeights& w, const float* x, float* y, int64_t n, int act_bits, CpuPath path) {
  check_packed(w, x, y, n);
  if (act_bits < 2 || act_bits > 8) throw KernelError("integer matmul: activation bits must be 2..8");
  require(device);
  if (n == 0) return;
  if (device == Device::Cpu)
    packed_matmul_int_cpu(w, x, y, n, act_bits, path);
  else
    packed_matmul_int_cuda(w, x, y, n, act_bits);
}

void packed_dequantize(Device device, const PackedWeights& w, int64_t row0, int64_t n_rows, float* out) {
  check_packed(w, out, out, 1);
  if (row0 < 0 || n_rows < 0 || row0 + n_rows > w.rows) throw KernelError("packed dequantize: rows outside the weight");
  require(device);
  if (n_rows == 0) return;
  (device == Device::Cpu ? packed_dequantize_cpu : packed_dequantize_cuda)(w, row0, n_rows, out);
}

void half_matmul(Device device, HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n,
                 CpuPath path) {
  if (rows < 0 || cols < 0 || n < 0) throw KernelError("half-precision matmul: a negative size");
  if (rows * cols > 0 && n > 0 && (!w || !x || !y)) throw KernelError("half-precision matmul: a null buffer");
  require(device);
  if (rows == 0 || n == 0) return;
  if (device == Device::Cpu)
    half_matmul_cpu(kind, w, x, y, rows, cols, n, path);
  else
    half_matmul_cuda(kind, w, x, y, rows, cols, n);
}

void half_to_float(Device device, HalfKind kind, const uint16_t* h, float* out, int64_t count) {
  if (count < 0) throw KernelError("half-precision widening: a negative count");
  if (count > 0 && (!h || !out)) throw KernelError("half-precision widening: a null buffer");
  require(device);
  if (count == 0) return;
  (device == Device::Cpu ? half_to_float_cpu : half_to_float_cuda)(kind, h, out, count);
}

void hadamard_transform(Device device, float* x, int64_t rows, int64_t n, float scale) {
  if (n <= 0 || (n & (n - 1)) != 0) throw KernelError("Walsh-Hadamard transform: the width must be a power of two");
  if (rows < 0) throw KernelError("Walsh-Hadamard transform: a negative number of rows");
  if (rows > 0 && !x) throw KernelError("Walsh-Hadamard transform: a null buffer");
  require(device);
  if (rows == 0) return;
  (device == Device::Cpu ? hadamard_transform_cpu : hadamard_transform_cuda)(x, rows, n, scale);
}

}  // namespace sq::kernels
