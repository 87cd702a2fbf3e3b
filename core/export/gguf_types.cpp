#include "core/export/gguf_types.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace sq {

const std::vector<GgufFileTypeInfo>& gguf_file_types() {
  // llama_ftype: ALL_F32 0, MOSTLY_F16 1, Q4_0 2, Q8_0 7, Q2_K 10, Q3_K_S 11, Q4_K_S 14, Q4_K_M 15,
  // Q5_K_S 16, Q5_K_M 17, Q6_K 18, BF16 32. A single K type is written as its "_S" file type,
  // the closest llama.cpp names.
  static const std::vector<GgufFileTypeInfo> table = {
      {GgufFileType::F16, "gguf-f16", "f16", 1, GgmlType::F16, GgufRule::Single},
      {GgufFileType::BF16, "gguf-bf16", "bf16", 32, GgmlType::BF16, GgufRule::Single},
      {GgufFileType::Q8_0, "gguf-q8_0", "q8_0", 7, GgmlType::Q8_0, GgufRule::Single},
      {GgufFileType::Q4_0, "gguf-q4_0", "q4_0", 2, GgmlType::Q4_0, GgufRule::Single},
      {GgufFileType::Q6_K, "gguf-q6_k", "q6_k", 18, GgmlType::Q6_K, GgufRule::Single},
      {GgufFileType::Q5_K, "gguf-q5_k", "q5_k", 16, GgmlType::Q5_K, GgufRule::Single},
      {GgufFileType::Q4_K, "gguf-q4_k", "q4_k", 14, GgmlType::Q4_K, GgufRule::Single},
      {GgufFileType::Q3_K, "gguf-q3_k", "q3_k", 11, GgmlType::Q3_K, GgufRule::Single},
      {GgufFileType::Q2_K, "gguf-q2_k", "q2_k", 10, GgmlType::Q2_K, GgufRule::Single},
      {GgufFileType::Q5_K_M, "gguf-q5_k_m", "q5_k_m", 17, GgmlType::Q5_K, GgufRule::LlamaMix},
      {GgufFileType::Q4_K_M, "gguf-q4_k_m", "q4_k_m", 15, GgmlType::Q4_K, GgufRule::LlamaMix},
      {GgufFileType::Mixed, "gguf-mixed", "mixed", 0, GgmlType::Q8_0, GgufRule::RunSchemes},
  };
  return table;
}

const GgufFileTypeInfo& gguf_file_type(const std::string& format) {
  for (const GgufFileTypeInfo& t : gguf_file_types())
    if (format == t.format) return t;
  throw Error("'" + format + "' is not a GGUF export format");
}

namespace {

// llama.cpp's choice of layers for more bits in Q4_K_M and Q5_K_M.
bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// llama.cpp counts attn_v and ffn_down tensors in its loader's order, which sorts by layer number
// first (weight_name_comparer): the count is the layer index.
int64_t layer_of(const std::string& name) {
  int layer = -1;
  return std::sscanf(name.c_str(), "blk.%d.", &layer) == 1 ? layer : -1;
}

GgmlType fallback(GgmlType t, int64_t width) {
  if (width % ggml_block_size(t) == 0) return t;
  const GgmlType f = t == GgmlType::Q4_K ? GgmlType::Q5_0 : t == GgmlType::Q5_K ? GgmlType::Q5_1 : t == GgmlType::Q6_K ? GgmlType::Q8_0 : GgmlType::F16;
  return width % ggml_block_size(f) == 0 ? f : GgmlType::F16;
}

}  // namespace

GgmlType gguf_type_of_scheme(const QuantScheme& s) {
  switch (s.w_kind) {
    case kernels::GridKind::GgufK: return ggml_grid_type(s);
    case kernels::GridKind::GgufQ8_0: return GgmlType::Q8_0;
    case kernels::GridKind::GgufQ4_0: return GgmlType::Q4_0;
    default: break;
  }
  static const GgmlType by_bits[] = {GgmlType::Q2_K, GgmlType::Q2_K, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                     GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q8_0};
  return by_bits[std::min(std::max(s.w_bits, 0), 8)];
}

GgmlType gguf_tensor_type(const GgufFileTypeInfo& t, const GgufTensorRole& x) {
  if (x.ne.size() < 2) return GgmlType::F32;
  if (ggml_is_float(t.base)) return t.base;
  if (t.rule == GgufRule::RunSchemes) return x.run_type ? fallback(*x.run_type, x.ne[0]) : x.stored;
  if (t.rule == GgufRule::Single) return x.quantized_linear ? t.base : x.stored;
  const bool head = x.name == "output.weight" || (x.tied && x.name == "token_embd.weight");
  GgmlType type = t.base;
  if (head) {
    type = x.ne[0] % ggml_block_size(t.base) != 0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
  } else if (contains(x.name, "attn_v.weight") || contains(x.name, "ffn_down")) {
    if (use_more_bits(layer_of(x.name), x.n_layers)) type = GgmlType::Q6_K;
  }
  return fallback(type, x.ne[0]);
}

}  // namespace sq
