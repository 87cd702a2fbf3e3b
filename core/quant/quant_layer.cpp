#include "core/quant/quant_layer.h"

#include "core/quant/lwc.h"
#include "core/quantized/fake_quant_ops.h"
#include "core/run/torch_device.h"

namespace sq {

torch::Tensor clip_shape(const torch::Tensor& w, const QuantScheme& s) {
  const int64_t rows = w.size(0), cols = w.size(1), g = group_width(s, rows, cols);
  return torch::zeros({s.group < 0 ? 1 : rows, (s.group < 0 ? rows * cols : cols) / g}, beside(w));
}

Params merged(Params a, const Params& b) {
  for (const auto& [k, v] : b) a[k] = v;
  return a;
}

InputAbsMax input_absmax(const Llama& net, int64_t i, const std::vector<Llama::State>& states, const std::vector<Llama::Batch>& batches) {
  const std::string point = "layer." + std::to_string(i);
  InputAbsMax m;
  std::vector<Llama::State> scratch = states;
  net.run_block(i, scratch, [&](size_t b, const std::string& name, const torch::Tensor& v) {
    torch::Tensor* acc = name == point + ".qkv_in" ? &m.attn : name == point + ".mlp_in" ? &m.mlp : name == point + ".o_in" ? &m.out : nullptr;
    if (!acc) return;
    const torch::Tensor real = batches[b].mask.reshape({-1}).to(torch::kBool);
    const torch::Tensor mx = v.reshape({-1, v.size(-1)}).index({real}).abs().amax(0);
    *acc = acc->defined() ? torch::maximum(*acc, mx) : mx;
  });
  return m;
}

Params fake_quantized_layer(const ModelConfig& c, const Params& layer, int64_t i, const LayerSmoothing* smoothing,
                            const Params& clip_logits, const QuantScheme& scheme, const std::optional<SchemeMix>& mix) {
  Params out = smoothing ? apply_smoothing(c, layer, i, *smoothing) : layer;
  for (auto& [name, w] : out) {
    const QuantScheme* s = weight_scheme(name, scheme, mix);
    if (!s) continue;
    auto it = clip_logits.find(name);
    const torch::Tensor clip = it != clip_logits.end() ? torch::sigmoid(it->second) : torch::ones_like(clip_shape(w, *s));
    w = fake_quant_weight_ste(w, *s, clip);
  }
  return out;
}

}  // namespace sq
