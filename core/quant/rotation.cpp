#include "core/quant/rotation.h"

namespace sq {

// host: drawn with the CPU generator, so that a seed gives the same rotation on every device
torch::Tensor random_orthogonal(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  if ((n & (n - 1)) == 0) {
    torch::Tensor h = torch::ones({1, 1}, host(torch::kFloat64));
    while (h.size(0) < n) h = torch::cat({torch::cat({h, h}, 1), torch::cat({h, -h}, 1)}, 0);  // Sylvester
    const torch::Tensor signs = torch::randint(0, 2, {n}, host(torch::kFloat64)) * 2 - 1;
    return (h * signs / std::sqrt(double(n))).to(torch::kFloat32);
  }
  const auto qr = torch::linalg_qr(torch::randn({n, n}, host(torch::kFloat64)));
  const torch::Tensor q = std::get<0>(qr), r = std::get<1>(qr);
  return (q * torch::sign(torch::diagonal(r))).to(torch::kFloat32);  // unique up to sign: fix it
}

std::map<std::string, torch::Tensor> rotate_layer(const ModelConfig& c, int64_t i, const FetchFn& fetch, const torch::Tensor& q) {
  const std::string p = "model.layers." + std::to_string(i) + ".";
  std::map<std::string, torch::Tensor> out;
  const torch::Tensor qd = q.to(torch::kFloat64);
  auto reader = [&](const std::string& linear, const torch::Tensor& gamma) {
    out[p + linear + ".weight"] = torch::matmul(fetch(p + linear + ".weight").to(torch::kFloat64) * gamma, qd).to(torch::kFloat32);
  };
  auto writer = [&](const std::string& linear) {
    out[p + linear + ".weight"] = torch::matmul(qd.t(), fetch(p + linear + ".weight").to(torch::kFloat64)).to(torch::kFloat32);
  };
  const torch::Tensor g_attn = fetch(p + "input_layernorm.weight").to(torch::kFloat64);
  const torch::Tensor g_mlp = fetch(p + "post_attention_layernorm.weight").to(torch::kFloat64);
  for (const char* l : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}) reader(l, g_attn);
  for (const char* l : {"mlp.gate_proj", "mlp.up_proj"}) reader(l, g_mlp);
  writer("self_attn.o_proj");
  writer("mlp.down_proj");
  out[p + "input_layernorm.weight"] = torch::ones_like(g_attn).to(torch::kFloat32);
  out[p + "post_attention_layernorm.weight"] = torch::ones_like(g_mlp).to(torch::kFloat32);
  if (c.o_proj_bias)
    out[p + "self_attn.o_proj.bias"] = torch::matmul(fetch(p + "self_attn.o_proj.bias").to(torch::kFloat64), qd).to(torch::kFloat32);
  return out;
}

std::map<std::string, torch::Tensor> rotate_globals(const ModelConfig& c, const FetchFn& fetch, const torch::Tensor& q) {
  const torch::Tensor qd = q.to(torch::kFloat64);
  const torch::Tensor embed = fetch("model.embed_tokens.weight").to(torch::kFloat64);
  const torch::Tensor head = c.tie_word_embeddings ? embed : fetch("lm_head.weight").to(torch::kFloat64);
  const torch::Tensor gamma = fetch("model.norm.weight").to(torch::kFloat64);
  return {{"model.embed_tokens.weight", torch::matmul(embed, qd).to(torch::kFloat32)},
          {"lm_head.weight", torch::matmul(head * gamma, qd).to(torch::kFloat32)},
          {"model.norm.weight", torch::ones_like(gamma).to(torch::kFloat32)}};
}

}  // namespace sq
