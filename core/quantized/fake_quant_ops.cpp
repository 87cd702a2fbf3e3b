#include "core/quantized/fake_quant_ops.h"

#include "core/error.h"
#include "core/quantized/ggml_grid.h"
#include "kernels/fake_quant.h"
#include "kernels/weight_quant.h"

namespace sq {

kernels::Device kernel_device(const torch::Tensor& t) {
  if (t.is_cpu()) return kernels::Device::Cpu;
  if (t.is_cuda()) return kernels::Device::Cuda;
  throw Error("the quantization kernels run on the CPU and CUDA devices, not on " + t.device().str());
}

torch::Tensor fake_quant_activations(const torch::Tensor& x, int bits) {
  if (bits >= 16) return x;
  const torch::Tensor flat = x.detach().to(torch::kFloat32).contiguous().view({-1, x.size(-1)});
  torch::Tensor out = torch::empty_like(flat);
  kernels::fake_quant_per_token_symmetric(kernel_device(flat), flat.data_ptr<float>(), out.data_ptr<float>(), nullptr, flat.size(0),
                                          flat.size(1), bits);
  // Straight-through: the value is quantized, the gradient is the identity's.
  return x + (out.view(x.sizes()) - x).detach();
}

torch::Tensor fake_quant_per_head(const torch::Tensor& x, int bits) {
  if (bits >= 16) return x;
  const torch::Tensor flat = x.detach().to(torch::kFloat32).contiguous().view({-1, x.size(-1)});
  torch::Tensor out = torch::empty_like(flat);
  const int64_t d = flat.size(1), g = d > 128 && d % 128 == 0 ? 128 : d;
  const kernels::WeightGridSpec spec{bits, kernels::GridKind::Asymmetric, g};
  kernels::fake_quant_weight(kernel_device(flat), flat.data_ptr<float>(), out.data_ptr<float>(), flat.size(0), d, spec, nullptr,
                             nullptr, nullptr, nullptr);
  return x + (out.view(x.sizes()) - x).detach();
}

int64_t group_width(const QuantScheme& s, int64_t rows, int64_t cols) {
  if (s.group < 0) return rows * cols;
  if (s.group == 0) return cols;
  if (cols % s.group != 0)
    throw Error("input width " + std::to_string(cols) + " is not a multiple of the group size " + std::to_string(s.group));
  return s.group;
}

QuantizedWeight quantize_weight(const torch::Tensor& w_in, const QuantScheme& s, const torch::Tensor& clip) {
  if (s.w_kind == kernels::GridKind::GgufK) {
    if (clip.defined()) throw Error("K-quant grids fix their own scales; there is no clipping range to learn");
    return quantize_ggml_blocks(w_in, ggml_grid_type(s));
  }
  const torch::Tensor w = w_in.detach().to(torch::kFloat32).contiguous();
  const int64_t rows = w.size(0), cols = w.size(1);
  const int64_t g = group_width(s, rows, cols);
  // Per tensor is one row of rows * cols for the kernel.
  const int64_t krows = s.group < 0 ? 1 : rows, kcols = s.group < 0 ? rows * cols : cols;
  const int64_t groups = kcols / g;
  QuantizedWeight q;
  const auto on = w.options();
  q.dequant = torch::empty({rows, cols}, on);
  q.codes = torch::empty({rows, cols}, on.dtype(torch::kInt32));
  q.scales = torch::empty({krows, groups}, on);
  q.zeros = torch::empty({krows, groups}, on);
  const torch::Tensor c = clip.defined() ? clip.detach().to(w.device(), torch::kFloat32).contiguous() : torch::Tensor();
  kernels::fake_quant_weight(kernel_device(w), w.data_ptr<float>(), q.dequant.data_ptr<float>(), krows, kcols, {s.w_bits, s.w_kind, g},
                                 c.defined() ? c.data_ptr<float>() : nullptr, q.codes.data_ptr<int32_t>(),
                                 q.scales.data_ptr<float>(), q.zeros.data_ptr<float>());
  return q;
}

}  // namespace sq
