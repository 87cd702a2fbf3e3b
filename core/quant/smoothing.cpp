#include "core/quant/smoothing.h"

namespace sq {
namespace {

const char* const kAttnReaders[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
const char* const kMlpReaders[] = {"mlp.gate_proj", "mlp.up_proj"};

// Query-head channels [heads * head_dim] (o_proj's inputs, q_proj's outputs) from key/value-head
// channels [kv_heads * head_dim]: query head h reads key/value head h / (heads / kv_heads).
torch::Tensor per_query_channel(const ModelConfig& c, const torch::Tensor& per_kv_channel) {
  return per_kv_channel.view({c.num_kv_heads, 1, c.head_dim}).expand({c.num_kv_heads, c.num_heads / c.num_kv_heads, c.head_dim}).reshape({-1});
}

}  // namespace

LayerSmoothing LayerSmoothing::detached() const {
  return {attn.detach().clone(), mlp.detach().clone(), out.detach().clone(), qk.detach().clone()};
}

std::vector<torch::Tensor> LayerSmoothing::trainable() {
  return {attn.set_requires_grad(true), mlp.set_requires_grad(true), out.set_requires_grad(true), qk.set_requires_grad(true)};
}

LayerSmoothing init_smoothing(const ModelConfig& c, const std::map<std::string, torch::Tensor>& layer, int64_t i,
                              const InputAbsMax& absmax) {
  const std::string p = "model.layers." + std::to_string(i) + ".";
  auto start = [&](const char* const* readers, size_t n, const torch::Tensor& xmax) {
    torch::Tensor wmax = torch::zeros_like(xmax);
    for (size_t r = 0; r < n; ++r) wmax = torch::maximum(wmax, layer.at(p + readers[r] + ".weight").abs().amax(0));
    return (0.5 * (torch::log(xmax.clamp_min(1e-5)) - torch::log(wmax.clamp_min(1e-5)))).detach();
  };
  // One scale per v channel: the largest activation and weight over the o_proj channels it feeds.
  const int64_t group = c.num_heads / c.num_kv_heads;
  const torch::Tensor xmax = absmax.out.view({c.num_kv_heads, group, c.head_dim}).amax(1).reshape({-1});
  const torch::Tensor wmax = layer.at(p + "self_attn.o_proj.weight").abs().amax(0).view({c.num_kv_heads, group, c.head_dim}).amax(1).reshape({-1});
  return {start(kAttnReaders, 3, absmax.attn), start(kMlpReaders, 2, absmax.mlp),
          (0.5 * (torch::log(xmax.clamp_min(1e-5)) - torch::log(wmax.clamp_min(1e-5)))).detach(),
          torch::zeros({c.num_kv_heads * c.head_dim / 2}, beside(xmax))};
}

std::map<std::string, torch::Tensor> apply_smoothing(const ModelConfig& c, const std::map<std::string, torch::Tensor>& layer,
                                                     int64_t i, const LayerSmoothing& s) {
  const std::string p = "model.layers." + std::to_string(i) + ".";
  std::map<std::string, torch::Tensor> out = layer;
  auto fold = [&](const char* norm, const char* const* readers, size_t n, const torch::Tensor& log_s) {
    const torch::Tensor scale = torch::exp(log_s);
    out[p + norm] = layer.at(p + norm) / scale;
    for (size_t r = 0; r < n; ++r) out[p + readers[r] + ".weight"] = layer.at(p + readers[r] + ".weight") * scale;
  };
  fold("input_layernorm.weight", kAttnReaders, 3, s.attn);
  fold("post_attention_layernorm.weight", kMlpReaders, 2, s.mlp);
  if (s.out.defined()) {
    const torch::Tensor scale = torch::exp(s.out);
    const std::string v = p + "self_attn.v_proj.";
    out[v + "weight"] = out.at(v + "weight") / scale.unsqueeze(1);
    if (layer.count(v + "bias")) out[v + "bias"] = layer.at(v + "bias") / scale;
    out[p + "self_attn.o_proj.weight"] = layer.at(p + "self_attn.o_proj.weight") * per_query_channel(c, scale);
  }
  if (s.qk.defined()) {
    const torch::Tensor pair = s.qk.view({c.num_kv_heads, c.head_dim / 2});
    const torch::Tensor k_scale = torch::exp(torch::cat({pair, pair}, 1).reshape({-1})), q_scale = per_query_channel(c, k_scale);
    auto scale_rows = [&](const char* linear, const torch::Tensor& by, bool divide) {
      for (const char* part : {".weight", ".bias"}) {
        const std::string name = p + "self_attn." + linear + part;
        if (!out.count(name)) continue;
        const torch::Tensor s_rows = std::string(part) == ".weight" ? by.unsqueeze(1) : by;
        out[name] = divide ? out.at(name) / s_rows : out.at(name) * s_rows;
      }
    };
    scale_rows("q_proj", q_scale, true);
    scale_rows("k_proj", k_scale, false);
  }
  return out;
}

}  // namespace sq
