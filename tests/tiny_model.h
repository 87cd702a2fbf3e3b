#pragma once
// Writes tiny random LLaMA-family checkpoints in Hugging Face layout for the engine's tests:
// config.json, model.safetensors (or shards and an index) and a byte-level tokenizer.json.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/model/llama.h"
#include "core/io/safetensors.h"
#include "core/text/unicode_text.h"

struct TinySpec {
  std::string model_type = "llama";
  int64_t hidden = 32, intermediate = 64, layers = 2, heads = 4, kv_heads = 2, vocab = 260;
  bool tied = false;
  bool bf16 = false;     // store weights as BF16
  int shards = 1;        // >1: model.safetensors.index.json and that many shard files
  int64_t context = 512;  // max_position_embeddings (a judge's prompt needs thousands of byte tokens)
  uint64_t seed = 1;
};

inline void writeTinyModel(const std::string& dir, const TinySpec& s) {
  namespace fs = std::filesystem;
  using nlohmann::json;
  fs::create_directories(dir);
  torch::manual_seed(s.seed);
  const int64_t hd = s.hidden / s.heads;
  sq::ModelConfig shape;
  shape.model_type = s.model_type;
  shape.vocab_size = s.vocab, shape.hidden_size = s.hidden, shape.intermediate_size = s.intermediate;
  shape.num_layers = s.layers, shape.num_heads = s.heads, shape.num_kv_heads = s.kv_heads, shape.head_dim = hd;
  shape.tie_word_embeddings = s.tied;
  shape.attention_bias = s.model_type == "qwen2";
  std::vector<std::pair<std::string, torch::Tensor>> w;
  for (const sq::ParamSpec& spec : sq::parameter_specs(shape)) {
    const bool final_norm = spec.name == "model.norm.weight";
    const bool norm = spec.name.find("norm") != std::string::npos;
    const bool embed = spec.name == "model.embed_tokens.weight";
    const bool bias = spec.name.size() > 5 && spec.name.compare(spec.name.size() - 5, 5, ".bias") == 0;
    torch::Tensor t = final_norm ? torch::ones(spec.shape)
                      : norm     ? 1 + 0.1 * torch::randn(spec.shape)
                                 : torch::randn(spec.shape) * (embed ? 1.0 : bias ? 0.1 : 0.2);
    w.emplace_back(spec.name, t);
  }
  // Weights are rounded to bf16 values either way, so f32 and bf16 copies hold the same numbers.
  for (auto& [n, t] : w) t = t.to(torch::kBFloat16).to(s.bf16 ? torch::kBFloat16 : torch::kFloat32).contiguous();

  std::vector<std::vector<sq::TensorData>> shards(static_cast<size_t>(s.shards));
  json weight_map;
  for (size_t i = 0; i < w.size(); ++i) {
    const auto& [n, t] = w[i];
    const size_t k = i % shards.size();
    shards[k].push_back({n, s.bf16 ? sq::DType::BF16 : sq::DType::F32, t.sizes().vec(), t.data_ptr(),
                         static_cast<size_t>(t.numel() * t.element_size())});
    weight_map[n] = "model-0000" + std::to_string(k + 1) + "-of-0000" + std::to_string(s.shards) + ".safetensors";
  }
  if (s.shards == 1) {
    sq::write_safetensors(dir + "/model.safetensors", shards[0], {{"format", "pt"}});
  } else {
    for (size_t k = 0; k < shards.size(); ++k)
      sq::write_safetensors(dir + "/model-0000" + std::to_string(k + 1) + "-of-0000" + std::to_string(s.shards) + ".safetensors",
                            shards[k]);
    std::ofstream(dir + "/model.safetensors.index.json") << json{{"metadata", json::object()}, {"weight_map", weight_map}}.dump(1);
  }
  json cfg = {{"architectures", {s.model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
              {"model_type", s.model_type},   {"vocab_size", s.vocab},
              {"hidden_size", s.hidden},      {"intermediate_size", s.intermediate},
              {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
              {"num_key_value_heads", s.kv_heads}, {"rms_norm_eps", 1e-5},
              {"rope_theta", 10000.0},        {"max_position_embeddings", s.context},
              {"tie_word_embeddings", s.tied}, {"bos_token_id", 257},
              {"eos_token_id", 256},          {"torch_dtype", s.bf16 ? "bfloat16" : "float32"}};
  std::ofstream(dir + "/config.json") << cfg.dump(1);
  // A byte-level tokenizer: the 256 byte characters, no merges, three special tokens.
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[sq::unicode::byte_to_char()[static_cast<size_t>(b)]] = b;
  json tok = {{"version", "1.0"},
              {"added_tokens", {{{"id", 256}, {"content", "<|eos|>"}, {"special", true}, {"normalized", false}},
                                {{"id", 257}, {"content", "<|bos|>"}, {"special", true}, {"normalized", false}}}},
              {"normalizer", nullptr},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
              {"post_processor", {{"type", "TemplateProcessing"},
                                  {"single", {{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                                  {"special_tokens", {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {257}}, {"tokens", {"<|bos|>"}}}}}}}},
              {"decoder", {{"type", "ByteLevel"}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
  std::ofstream(dir + "/tokenizer.json") << tok.dump();
}
