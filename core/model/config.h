#pragma once
// config.json of the LLaMA family as Hugging Face writes it (model_type llama, qwen2, mistral).
// An unknown model_type or an option the engine does not implement is refused by name.
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

struct RopeScaling {
  std::string type = "none";  // none, linear, llama3
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 8192;       // llama3
};

struct ModelConfig {
  std::string model_type;  // llama, qwen2, mistral
  std::string architecture;
  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0;
  int64_t num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  int64_t max_position_embeddings = 0;
  int64_t sliding_window = 0;  // mistral: 0 = none; longer sequences are refused
  double rms_norm_eps = 1e-6, rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q, k, v (and o for llama) biases; qwen2 always has q, k, v
  bool o_proj_bias = false;
  bool mlp_bias = false;
  std::vector<int64_t> bos_token_ids, eos_token_ids;
  std::string torch_dtype = "float32";

  int64_t parameter_count() const;
};

struct ParamSpec {
  std::string name;  // as Hugging Face names it
  std::vector<int64_t> shape;
};
// Every weight a config needs, in checkpoint order.
std::vector<ParamSpec> parameter_specs(const ModelConfig& config);

// Throws sq::Error naming the file, the field and the value.
ModelConfig load_config(const std::string& config_json_path);
ModelConfig parse_config(const std::string& json_text, const std::string& origin);

// Refuses, naming `origin` and the field, a configuration no real model has and that would make
// the engine allocate without bound or compute garbage: sizes beyond the engine's limits (a
// billion layers, a vocabulary of 2^32), non-positive rope_theta, rms_norm_eps or rope factor.
// Every loader (config.json, GGUF metadata) calls it before allocating anything.
void check_config(const ModelConfig& config, const std::string& origin);
std::string to_json(const ModelConfig& c);

}  // namespace sq
