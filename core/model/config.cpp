#include "core/model/config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

using nlohmann::json;

std::vector<int64_t> id_list(const json& j) {
  if (j.is_null()) return {};
  if (j.is_array()) return j.get<std::vector<int64_t>>();
  return {j.get<int64_t>()};
}

}  // namespace

int64_t ModelConfig::parameter_count() const {
  const int64_t q = num_heads * head_dim, kv = num_kv_heads * head_dim;
  int64_t layer = hidden_size * (q + 2 * kv) + q * hidden_size + 3 * hidden_size * intermediate_size + 2 * hidden_size;
  if (attention_bias) layer += q + 2 * kv;
  const int64_t embed = vocab_size * hidden_size;
  return embed * (tie_word_embeddings ? 1 : 2) + num_layers * layer + hidden_size;
}

std::vector<ParamSpec> parameter_specs(const ModelConfig& c) {
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim, f = c.intermediate_size;
  std::vector<ParamSpec> specs = {{"model.embed_tokens.weight", {c.vocab_size, h}}};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    specs.push_back({p + "input_layernorm.weight", {h}});
    specs.push_back({p + "self_attn.q_proj.weight", {q, h}});
    specs.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    specs.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    if (c.attention_bias) {
      specs.push_back({p + "self_attn.q_proj.bias", {q}});
      specs.push_back({p + "self_attn.k_proj.bias", {kv}});
      specs.push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    specs.push_back({p + "self_attn.o_proj.weight", {h, q}});
    if (c.o_proj_bias) specs.push_back({p + "self_attn.o_proj.bias", {h}});
    specs.push_back({p + "post_attention_layernorm.weight", {h}});
    specs.push_back({p + "mlp.gate_proj.weight", {f, h}});
    specs.push_back({p + "mlp.up_proj.weight", {f, h}});
    specs.push_back({p + "mlp.down_proj.weight", {h, f}});
  }
  specs.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, h}});
  return specs;
}

ModelConfig parse_config(const std::string& text, const std::string& origin) {
  const json j = parse_json(text, origin);
  ModelConfig c;
  auto need = [&](const char* key) -> const json& {
    if (!j.contains(key) || j[key].is_null()) throw Error(origin, std::string("missing field '") + key + "'");
    return j[key];
  };
  auto positive = [&](const char* key) {
    const json& v = need(key);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      throw Error(origin, std::string("field '") + key + "' must be a positive integer, got " + json_excerpt(v));
    return v.get<int64_t>();
  };
  try {
    c.model_type = need("model_type").get<std::string>();
    if (c.model_type != "llama" && c.model_type != "qwen2" && c.model_type != "mistral")
      throw Error(origin, "unsupported model_type " + quote_value(c.model_type) + " (supported: llama, qwen2, mistral)");
    if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty())
      c.architecture = j["architectures"][0].get<std::string>();
    c.vocab_size = positive("vocab_size");
    c.hidden_size = positive("hidden_size");
    c.intermediate_size = positive("intermediate_size");
    c.num_layers = positive("num_hidden_layers");
    c.num_heads = positive("num_attention_heads");
    c.num_kv_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                         ? positive("num_key_value_heads") : c.num_heads;
    c.head_dim = j.contains("head_dim") && !j["head_dim"].is_null() ? positive("head_dim") : c.hidden_size / c.num_heads;
    if (c.num_heads % c.num_kv_heads != 0)
      throw Error(origin, "num_attention_heads " + std::to_string(c.num_heads) + " is not a multiple of num_key_value_heads " +
                              std::to_string(c.num_kv_heads));
    if (c.head_dim % 2 != 0) throw Error(origin, "head_dim " + std::to_string(c.head_dim) + " must be even for rotary embeddings");
    c.max_position_embeddings = j.value("max_position_embeddings", int64_t{4096});
    c.rms_norm_eps = j.value("rms_norm_eps", 1e-6);
    c.rope_theta = j.value("rope_theta", 10000.0);
    c.tie_word_embeddings = j.value("tie_word_embeddings", false);
    c.attention_bias = c.model_type == "qwen2" || j.value("attention_bias", false);
    c.o_proj_bias = c.model_type != "qwen2" && j.value("attention_bias", false);
    c.mlp_bias = j.value("mlp_bias", false);
    if (c.mlp_bias) throw Error(origin, "unsupported option mlp_bias = true");
    const std::string act = j.value("hidden_act", std::string("silu"));
    if (act != "silu") throw Error(origin, "unsupported hidden_act " + quote_value(act) + " (supported: silu)");
    if (c.model_type == "mistral" && j.contains("sliding_window") && !j["sliding_window"].is_null()) {
      const json& w = j["sliding_window"];
      if (!w.is_number_integer() || w.get<int64_t>() <= 0)
        throw Error(origin, "field 'sliding_window' must be a positive integer or null, got " + json_excerpt(w));
      if (w.get<int64_t>() < c.max_position_embeddings) c.sliding_window = w.get<int64_t>();
    }
    if (c.model_type == "qwen2" && j.value("use_sliding_window", false))
      throw Error(origin, "unsupported option use_sliding_window = true");
    c.bos_token_ids = id_list(j.value("bos_token_id", json()));
    c.eos_token_ids = id_list(j.value("eos_token_id", json()));
    for (const auto& [key, ids] : {std::pair<const char*, const std::vector<int64_t>*>{"bos_token_id", &c.bos_token_ids},
                                   {"eos_token_id", &c.eos_token_ids}})
      for (int64_t id : *ids)
        if (id < 0 || id >= c.vocab_size)
          throw Error(origin, std::string("field '") + key + "' holds " + std::to_string(id) + ", outside the vocabulary (0.." +
                                  std::to_string(c.vocab_size - 1) + ")");
    c.torch_dtype = j.value("torch_dtype", std::string("float32"));
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
      const json& rs = j["rope_scaling"];
      std::string type = rs.value("rope_type", rs.value("type", std::string("default")));
      if (type == "default") type = "none";
      c.rope_scaling.type = type;
      if (type == "linear") {
        c.rope_scaling.factor = rs.at("factor").get<double>();
      } else if (type == "llama3") {
        c.rope_scaling.factor = rs.at("factor").get<double>();
        c.rope_scaling.low_freq_factor = rs.value("low_freq_factor", 1.0);
        c.rope_scaling.high_freq_factor = rs.value("high_freq_factor", 4.0);
        c.rope_scaling.original_max_position_embeddings = rs.value("original_max_position_embeddings", int64_t{8192});
      } else if (type != "none") {
        throw Error(origin, "unsupported rope_scaling type " + quote_value(type) + " (supported: linear, llama3)");
      }
    }
  } catch (const json::exception& e) {
    throw Error(origin, "a field has the wrong type: " + json_error_text(e));
  }
  check_config(c, origin);
  return c;
}

void check_config(const ModelConfig& c, const std::string& origin) {
  // Far beyond every released checkpoint, far below what would exhaust memory before the weights
  // are even looked at.
  const std::pair<const char*, std::pair<int64_t, int64_t>> sizes[] = {
      {"vocab_size", {c.vocab_size, int64_t(1) << 22}},
      {"hidden_size", {c.hidden_size, int64_t(1) << 16}},
      {"intermediate_size", {c.intermediate_size, int64_t(1) << 18}},
      {"num_hidden_layers", {c.num_layers, 1024}},
      {"num_attention_heads", {c.num_heads, 1024}},
      {"num_key_value_heads", {c.num_kv_heads, 1024}},
      {"head_dim", {c.head_dim, 1024}},
      {"max_position_embeddings", {c.max_position_embeddings, int64_t(1) << 24}},
  };
  for (const auto& [key, v] : sizes) {
    if (v.first <= 0) throw Error(origin, std::string("field '") + key + "' must be positive, got " + std::to_string(v.first));
    if (v.first > v.second)
      throw Error(origin, std::string("field '") + key + "' is " + std::to_string(v.first) + ", beyond the " +
                              std::to_string(v.second) + " this engine takes");
  }
  auto positive = [&](const char* key, double v) {
    if (!(v > 0) || !std::isfinite(v)) throw Error(origin, std::string("field '") + key + "' must be positive, got " + std::to_string(v));
  };
  positive("rope_theta", c.rope_theta);
  positive("rms_norm_eps", c.rms_norm_eps);
  // Beyond these a number is a damaged file, not a model: every released one uses 1e-8..1e-5 and
  // a base of thousands to millions (a base of 1 or less turns no pair of dimensions slower than
  // the first).
  if (c.rms_norm_eps > 1e-2)
    throw Error(origin, "field 'rms_norm_eps' is " + std::to_string(c.rms_norm_eps) + "; a norm's epsilon is a small number (at most 0.01)");
  if (c.rope_theta <= 1) throw Error(origin, "field 'rope_theta' is " + std::to_string(c.rope_theta) + "; RoPE's base must exceed 1");
  if (c.rope_scaling.type != "none") positive("rope_scaling.factor", c.rope_scaling.factor);
}

ModelConfig load_config(const std::string& path) { return parse_config(read_text_file(path), path); }

std::string to_json(const ModelConfig& c) {
  return json{{"model_type", c.model_type},
              {"architecture", c.architecture},
              {"vocab_size", c.vocab_size},
              {"hidden_size", c.hidden_size},
              {"intermediate_size", c.intermediate_size},
              {"num_layers", c.num_layers},
              {"num_heads", c.num_heads},
              {"num_kv_heads", c.num_kv_heads},
              {"head_dim", c.head_dim},
              {"rms_norm_eps", c.rms_norm_eps},
              {"rope_theta", c.rope_theta},
              {"rope_scaling", c.rope_scaling.type},
              {"tie_word_embeddings", c.tie_word_embeddings},
              {"torch_dtype", c.torch_dtype},
              {"parameters", c.parameter_count()}}
      .dump(2);
}

}  // namespace sq
