#include "core/quantized/scheme.h"

#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"

namespace sq {

using kernels::GridKind;

QuantScheme parse_scheme_named(const std::string& spec, const std::string& name);

const std::vector<std::string>& scheme_presets() {
  static const std::vector<std::string> presets = {"w8a8",      "w4a4",      "w4a4kv4",   "w4a16",     "w8a16",     "gguf-q8_0",
                                                   "gguf-q4_0", "gguf-q6_k", "gguf-q5_k", "gguf-q4_k", "gguf-q3_k", "gguf-q2_k"};
  return presets;
}

QuantScheme parse_scheme(const std::string& text) {
  QuantScheme s;
  s.name = text;
  if (text == "gguf-q8_0" || text == "gguf-q4_0") {
    s.w_bits = text == "gguf-q8_0" ? 8 : 4;
    s.w_kind = text == "gguf-q8_0" ? GridKind::GgufQ8_0 : GridKind::GgufQ4_0;
    s.group = 32;
    return s;
  }
  static const std::regex k_quant(R"(gguf-q([2-6])_k)");
  std::smatch km;
  if (std::regex_match(text, km, k_quant)) {
    s.w_bits = std::stoi(km[1]);
    s.w_kind = GridKind::GgufK;
    s.group = 256;  // the super-block; its sub-blocks of 16 or 32 carry their own scales
    return s;
  }
  // Presets: Q-realign's W8A8 (per-channel asymmetric weights), QuaRot/AAQ's W4A4 (per-channel
  // symmetric), W4A16 as GPTQ checkpoints are served (groups of 128, symmetric: vLLM's packed
  // int4 kernels take no zero points), W8A16.
  if (text == "w8a8") return parse_scheme_named("w8a8-asym", text);
  if (text == "w4a4") return parse_scheme_named("w4a4-sym", text);
  if (text == "w4a4kv4") return parse_scheme_named("w4a4kv4-sym", text);
  if (text == "w4a16") return parse_scheme_named("w4a16-g128-sym", text);
  if (text == "w8a16") return parse_scheme_named("w8a16-asym", text);
  return parse_scheme_named(text, text);
}

QuantScheme parse_scheme_named(const std::string& spec, const std::string& name) {
  static const std::regex re(R"(w([2-8])a(4|6|8|16)((q?)kv(4|8|16))?(-g(32|64|128|t))?(-(sym|asym))?)");
  std::smatch m;
  if (!std::regex_match(spec, m, re)) {
    std::string presets;
    for (const std::string& p : scheme_presets()) presets += (presets.empty() ? "" : ", ") + p;
    throw Error("unknown scheme '" + name + "' (presets: " + presets +
                "; or w<2-8>a<4|6|8|16>[kv4|kv8|kv16|qkv4|qkv8|qkv16][-g32|-g64|-g128|-gt][-sym|-asym])");
  }
  QuantScheme s;
  s.name = name;
  s.w_bits = std::stoi(m[1]);
  s.a_bits = std::stoi(m[2]);
  if (m[3].matched) {
    s.attention_named = true;
    s.kv_bits = std::stoi(m[5]);
    if (m[4] == "q") s.q_bits = s.kv_bits;
  }
  if (m[7].matched) s.group = m[7] == "t" ? -1 : std::stoll(m[7]);
  s.w_kind = m[9] == "sym" ? GridKind::Symmetric : GridKind::Asymmetric;
  return s;
}

QuantScheme with_attention_at_activation_bits(QuantScheme s) {
  if (s.attention_named || s.a_bits >= 16) return s;
  s.q_bits = s.kv_bits = s.a_bits;
  s.name += "+qkv" + std::to_string(s.a_bits);
  return s;
}

GgmlType ggml_grid_type(const QuantScheme& s) {
  if (s.w_kind != kernels::GridKind::GgufK) throw Error("scheme '" + s.name + "' is not a K-quant grid");
  switch (s.w_bits) {
    case 2: return GgmlType::Q2_K;
    case 3: return GgmlType::Q3_K;
    case 4: return GgmlType::Q4_K;
    case 5: return GgmlType::Q5_K;
    case 6: return GgmlType::Q6_K;
    default: throw Error("scheme '" + s.name + "': K-quants have 2 to 6 bits");
  }
}

bool QuantScheme::quantizes(const std::string& name) const {
  const std::string suffix = ".weight";
  if (name.rfind("model.layers.", 0) != 0 || name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string linear = name.substr(0, name.size() - suffix.size());
  for (const std::string& t : targets)
    if (linear.size() > t.size() && linear.compare(linear.size() - t.size(), t.size(), t) == 0 &&
        linear[linear.size() - t.size() - 1] == '.')
      return true;
  return false;
}

std::string to_json(const QuantScheme& s) {
  static const char* kinds[] = {"symmetric", "asymmetric", "gguf-q8_0", "gguf-q4_0", "gguf-k"};
  return nlohmann::json{{"name", s.name},
                        {"weight_bits", s.w_bits},
                        {"weight_grid", kinds[int(s.w_kind)]},
                        {"group", s.group},
                        {"granularity", s.group == 0 ? "per-channel" : s.group < 0 ? "per-tensor" : "group"},
                        {"activation_bits", s.a_bits},
                        {"activations", s.a_bits < 16 ? "dynamic per-token symmetric" : "not quantized"},
                        {"query_bits", s.q_bits},
                        {"queries", s.q_bits < 16 ? "after rotary, per token and head, on the keys' grid" : "not quantized"},
                        {"kv_cache_bits", s.kv_bits},
                        {"kv_cache", s.kv_bits < 16 ? "keys (after rotary) and values, per token and head, asymmetric, groups of 128 or the head size"
                                                    : "not quantized"},
                        {"targets", s.targets},
                        {"lm_head", false}}
      .dump();
}

QuantScheme scheme_from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  QuantScheme s;
  s.name = j.at("name").get<std::string>();
  s.w_bits = j.at("weight_bits").get<int>();
  const std::string grid = j.at("weight_grid").get<std::string>();
  s.w_kind = grid == "symmetric" ? GridKind::Symmetric
             : grid == "asymmetric" ? GridKind::Asymmetric
             : grid == "gguf-q8_0" ? GridKind::GgufQ8_0
             : grid == "gguf-k"    ? GridKind::GgufK
                                   : GridKind::GgufQ4_0;
  s.group = j.at("group").get<int64_t>();
  s.a_bits = j.at("activation_bits").get<int>();
  s.kv_bits = j.value("kv_cache_bits", 16);  // runs written before KV-cache schemes
  s.q_bits = j.value("query_bits", 16);
  s.targets = j.at("targets").get<std::vector<std::string>>();
  return s;
}

}  // namespace sq
