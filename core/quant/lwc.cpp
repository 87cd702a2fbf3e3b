#include "core/quant/lwc.h"

#include "core/error.h"
#include "core/quantized/fake_quant_ops.h"
#include "kernels/weight_quant.h"

namespace sq {
namespace {

// The kernels' fake quantization and its straight-through backward as one autograd node: the
// weights [krows, kcols] in groups of `g` columns, one clip factor per group.
class FakeQuantWeightSte : public torch::autograd::Function<FakeQuantWeightSte> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& w, const torch::Tensor& clip, int64_t bits,
                               int64_t kind, int64_t krows, int64_t g) {
    const torch::Tensor wc = w.detach().to(torch::kFloat32).contiguous().view({krows, -1});
    const torch::Tensor cc = clip.detach().to(w.device(), torch::kFloat32).contiguous();
    torch::Tensor y = torch::empty_like(wc);
    const kernels::WeightGridSpec spec{int(bits), kernels::GridKind(kind), g};
    kernels::fake_quant_weight(kernel_device(wc), wc.data_ptr<float>(), y.data_ptr<float>(), krows, wc.size(1), spec,
                               cc.data_ptr<float>(), nullptr, nullptr, nullptr);
    ctx->save_for_backward({wc, cc});
    ctx->saved_data["bits"] = bits;
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["g"] = g;
    return y.view(w.sizes());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& w = saved[0];
    const torch::Tensor& clip = saved[1];
    const torch::Tensor gy = grads[0].to(torch::kFloat32).contiguous().view(w.sizes());
    torch::Tensor gw = torch::empty_like(w), gclip = torch::empty_like(clip);
    const kernels::WeightGridSpec spec{int(ctx->saved_data["bits"].toInt()), kernels::GridKind(ctx->saved_data["kind"].toInt()),
                                       ctx->saved_data["g"].toInt()};
    kernels::fake_quant_weight_ste_backward(kernel_device(w), w.data_ptr<float>(), gy.data_ptr<float>(), clip.data_ptr<float>(),
                                            gw.data_ptr<float>(), gclip.data_ptr<float>(), w.size(0), w.size(1), spec);
    return {gw.view(grads[0].sizes()), gclip, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fake_quant_weight_ste(const torch::Tensor& w, const QuantScheme& s, const torch::Tensor& clip) {
  if (s.gguf_exact()) throw Error("learnable clipping needs a free grid; llama.cpp block grids fix their scales");
  const int64_t rows = w.size(0), cols = w.size(1), g = group_width(s, rows, cols);
  return FakeQuantWeightSte::apply(w, clip, int64_t(s.w_bits), int64_t(s.w_kind), s.group < 0 ? int64_t(1) : rows, g);
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
