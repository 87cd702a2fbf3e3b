#include "core/quant/smoothing.h"

namespace sq {
namespace {

const char* const kAttnReaders[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
const char* const kMlpReaders[] = {"mlp.gate_proj", "mlp.up_proj"};

}  // namespace

LayerSmoothing init_smoothing(const std::map<std::string, torch::Tensor>& layer, int64_t i, const torch::Tensor& attn_absmax,
                              const torch::Tensor& mlp_absmax) {
  const std::string p = "model.layers." + std::to_string(i) + ".";
  auto start = [&](const char* const* readers, size_t n, const torch::Tensor& xmax) {
    torch::Tensor wmax = torch::zeros_like(xmax);
    for (size_t r = 0; r < n; ++r) wmax = torch::maximum(wmax, layer.at(p + readers[r] + ".weight").abs().amax(0));
    return (0.5 * (torch::log(xmax.clamp_min(1e-5)) - torch::log(wmax.clamp_min(1e-5)))).detach();
  };
  return {start(kAttnReaders, 3, attn_absmax), start(kMlpReaders, 2, mlp_absmax)};
}

std::map<std::string, torch::Tensor> apply_smoothing(const std::map<std::string, torch::Tensor>& layer, int64_t i,
                                                     const LayerSmoothing& s) {
  const std::string p = "model.layers." + std::to_string(i) + ".";
  std::map<std::string, torch::Tensor> out = layer;
  auto fold = [&](const char* norm, const char* const* readers, size_t n, const torch::Tensor& log_s) {
    const torch::Tensor scale = torch::exp(log_s);
    out[p + norm] = layer.at(p + norm) / scale;
    for (size_t r = 0; r < n; ++r) out[p + readers[r] + ".weight"] = layer.at(p + readers[r] + ".weight") * scale;
  };
  fold("input_layernorm.weight", kAttnReaders, 3, s.attn);
  fold("post_attention_layernorm.weight", kMlpReaders, 2, s.mlp);
  return out;
}

}  // namespace sq
