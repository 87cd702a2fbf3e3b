#include "core/model/gguf_layout.h"

#include <regex>

#include "core/error.h"

namespace sq {

std::string gguf_architecture(const ModelConfig& c) { return c.model_type == "qwen2" ? "qwen2" : "llama"; }

std::string gguf_tensor_name(const std::string& hf) {
  static const std::map<std::string, std::string> globals = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                             {"model.norm.weight", "output_norm.weight"},
                                                             {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> block = {
      {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},       {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},       {"self_attn.o_proj.bias", "attn_output.bias"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  if (auto it = globals.find(hf); it != globals.end()) return it->second;
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(hf, m, layer))
    if (auto it = block.find(m[2]); it != block.end()) return "blk." + m[1].str() + "." + it->second;
  throw Error("no GGUF name for tensor " + quote_value(hf));
}

torch::Tensor gguf_row_order(const torch::Tensor& t, const std::string& hf_name, const ModelConfig& c, bool inverse) {
  if (gguf_architecture(c) != "llama") return t;
  const bool q = hf_name.find("self_attn.q_proj.") != std::string::npos;
  const bool k = hf_name.find("self_attn.k_proj.") != std::string::npos;
  if (!q && !k) return t;
  const int64_t heads = q ? c.num_heads : c.num_kv_heads;
  std::vector<int64_t> split = {heads, 2, t.size(0) / heads / 2}, pairs = {heads, t.size(0) / heads / 2, 2};
  for (int64_t d = 1; d < t.dim(); ++d) split.push_back(t.size(d)), pairs.push_back(t.size(d));
  // Per head, rows [half 0 | half 1] become [r0 of half 0, r0 of half 1, r1 of half 0, ...].
  return t.reshape(inverse ? pairs : split).transpose(1, 2).reshape(t.sizes()).contiguous();
}

}  // namespace sq
