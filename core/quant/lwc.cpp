#include "core/quant/lwc.h"

#include "core/error.h"
#include "core/quant/fake_quant_ops.h"

namespace sq {
namespace {

torch::Tensor round_ste(const torch::Tensor& x) { return x + (torch::round(x) - x).detach(); }

}  // namespace

torch::Tensor fake_quant_weight_ste(const torch::Tensor& w, const QuantScheme& s, const torch::Tensor& clip) {
  if (s.gguf_exact()) throw Error("learnable clipping needs a free grid; llama.cpp block grids fix their scales");
  const int64_t rows = w.size(0), cols = w.size(1), g = group_width(s, rows, cols);
  const torch::Tensor wg = w.reshape({s.group < 0 ? 1 : rows, -1, g});  // [rows', groups, g]
  const torch::Tensor c = clip.unsqueeze(-1);
  torch::Tensor out;
  if (s.w_kind == kernels::GridKind::Asymmetric) {
    const double levels = double((1 << s.w_bits) - 1);
    const torch::Tensor hi = std::get<0>(wg.max(-1, true)) * c, lo = std::get<0>(wg.min(-1, true)) * c;
    const torch::Tensor scale = ((hi - lo) / levels).clamp_min(1e-8);
    const torch::Tensor zero = round_ste(-lo / scale);
    const torch::Tensor q = torch::clamp(round_ste(wg / scale) + zero, 0, levels);
    out = (q - zero) * scale;
  } else {
    const double qmax = double((1 << (s.w_bits - 1)) - 1);
    const torch::Tensor scale = (wg.abs().amax(-1, true) * c / qmax).clamp_min(1e-8);
    out = torch::clamp(round_ste(wg / scale), -qmax, qmax) * scale;
  }
  return out.reshape({rows, cols});
}

torch::Tensor block_loss(const torch::Tensor& out, const torch::Tensor& target, const torch::Tensor& mask,
                         const torch::Tensor& malicious, const BlockObjective& o) {
  const torch::Tensor m = mask.to(torch::kFloat32).unsqueeze(-1);
  const torch::Tensor mse = ((out - target).pow(2) * m).sum({1, 2}) / (m.sum({1, 2}) * double(out.size(-1))).clamp_min(1);
  if (!o.q_realign) return mse.mean();
  // Left padding puts every prompt's last token in the last column.
  const torch::Tensor logit = torch::matmul(out.select(1, -1), o.probe_w) + o.probe_b;
  const torch::Tensor push = torch::softplus(-logit);
  return torch::where(malicious, push, mse).mean();
}

}  // namespace sq
