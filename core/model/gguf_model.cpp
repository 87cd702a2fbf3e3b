#include "core/model/gguf_model.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "core/error.h"
#include "core/io/ggml_blocks.h"
#include "core/io/json_file.h"
#include "core/model/gguf_layout.h"
#include "core/model/gguf_vocab.h"
#include "core/model/llama.h"

namespace sq {

namespace {

// A tensor's values as the engine keeps them: F16 and BF16 as they are stored (copied, not
// widened: the half-precision kernels read them as a safetensors checkpoint's), the block types
// and F32 decoded to fp32. Shape as in the file, outermost first.
torch::Tensor read_values(const GgufTensorIn& t) {
  const std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
  if (t.type == GgmlType::F16 || t.type == GgmlType::BF16) {
    torch::Tensor x = torch::empty(shape, host(t.type == GgmlType::F16 ? torch::kHalf : torch::kBFloat16));  // host: copied from the file
    std::memcpy(x.data_ptr(), t.data, size_t(x.numel()) * 2);
    return x;
  }
  torch::Tensor x = torch::empty(shape, host());  // host: decoded from the file
  decode_values(t.type, t.data, x.numel(), x.data_ptr<float>());
  return x;
}

}  // namespace

GgufModel read_gguf_model(const std::string& path) {
  const GgufFile g(path);
  GgufModel m;
  ModelConfig& c = m.config;
  const std::string arch = g.at("general.architecture").as_string();
  if (arch != "llama" && arch != "qwen2")
    throw Error(path, "architecture " + quote_value(arch) + " is not supported (llama, qwen2)");
  c.model_type = arch;
  c.architecture = arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
  auto num = [&](const std::string& key) { return g.at(arch + "." + key).as_int(); };
  auto num_or = [&](const std::string& key, double fallback) {
    const GgufValue* v = g.find(arch + "." + key);
    return v ? v->as_float() : fallback;
  };
  c.hidden_size = num("embedding_length");
  c.num_layers = num("block_count");
  c.intermediate_size = num("feed_forward_length");
  c.num_heads = num("attention.head_count");
  c.num_kv_heads = g.find(arch + ".attention.head_count_kv") ? num("attention.head_count_kv") : c.num_heads;
  c.head_dim = g.find(arch + ".attention.key_length") ? num("attention.key_length") : (c.num_heads > 0 ? c.hidden_size / c.num_heads : 0);
  c.max_position_embeddings = num("context_length");
  c.rms_norm_eps = num_or("attention.layer_norm_rms_epsilon", 1e-5);
  c.rope_theta = num_or("rope.freq_base", 10000.0);
  c.vocab_size = g.find(arch + ".vocab_size") ? num("vocab_size") : int64_t(g.at("tokenizer.ggml.tokens").strings.size());
  if (c.num_heads <= 0 || c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
    throw Error(path, "attention head counts " + std::to_string(c.num_heads) + "/" + std::to_string(c.num_kv_heads) + " do not fit");
  if (const GgufValue* t = g.find(arch + ".rope.scaling.type"); t && t->as_string() != "none") {
    if (t->as_string() != "linear") throw Error(path, "rope scaling " + quote_value(t->as_string()) + " is not supported (linear)");
    c.rope_scaling.type = "linear";
    c.rope_scaling.factor = num_or("rope.scaling.factor", 1.0);
  }
  if (const GgufValue* s = g.find("safequant.hf_rope_scaling")) {
    const auto j = parse_json(s->as_string(), path + ": safequant.hf_rope_scaling");
    c.rope_scaling.type = "llama3";
    const std::string where = path + ": safequant.hf_rope_scaling";
    c.rope_scaling.factor = json_field<double>(j, "factor", where);
    c.rope_scaling.low_freq_factor = json_field<double>(j, "low_freq_factor", where);
    c.rope_scaling.high_freq_factor = json_field<double>(j, "high_freq_factor", where);
    c.rope_scaling.original_max_position_embeddings = json_field<int64_t>(j, "original_max_position_embeddings", where);
  } else if (g.tensor("rope_freqs.weight")) {
    throw Error(path, "per-frequency rope factors (rope_freqs.weight) without their Hugging Face parameters are not supported");
  }
  c.tie_word_embeddings = g.tensor("output.weight") == nullptr;
  c.attention_bias = arch == "qwen2" || g.tensor("blk.0.attn_q.bias") != nullptr;
  c.o_proj_bias = g.tensor("blk.0.attn_output.bias") != nullptr;
  if (const GgufValue* v = g.find("tokenizer.ggml.bos_token_id")) c.bos_token_ids = {v->as_int()};
  if (const GgufValue* v = g.find("tokenizer.ggml.eos_token_id")) c.eos_token_ids = {v->as_int()};
  // As the engine holds the weights (read_values).
  const GgufTensorIn* embed = g.tensor("token_embd.weight");
  c.torch_dtype = !embed                         ? "float32"
                  : embed->type == GgmlType::F16  ? "float16"
                  : embed->type == GgmlType::BF16 ? "bfloat16"
                                                  : "float32";
  check_config(c, path);

  for (const ParamSpec& spec : parameter_specs(c)) {
    const std::string name = gguf_tensor_name(spec.name);
    const GgufTensorIn* t = g.tensor(name);
    if (!t) throw Error(path, "missing tensor " + quote_value(name) + " (" + spec.name + ")");
    if (std::vector<int64_t>(spec.shape.rbegin(), spec.shape.rend()) != t->ne)
      throw Error(path, "tensor " + quote_value(name) + " has the wrong shape for this config");
    m.tensors[spec.name] = gguf_row_order(read_values(*t), spec.name, c, true);
  }
  m.tokenizer_json = tokenizer_json_from_gguf(g);
  if (const GgufValue* t = g.find("tokenizer.chat_template")) m.chat_template = t->as_string();
  return m;
}

}  // namespace sq
