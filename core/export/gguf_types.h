#pragma once
// The GGUF file types this project writes, and llama.cpp's rule for which tensor of a file gets
// which ggml type (src/llama-quant.cpp, llama_tensor_get_type, for LLaMA-family models without
// experts): one table and one function, so the rule lives in one place. Plain C++.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/io/gguf.h"
#include "core/quantized/scheme.h"

namespace sq {

enum class GgufFileType { F16, BF16, Q8_0, Q4_0, Q6_K, Q5_K, Q4_K, Q3_K, Q2_K, Q5_K_M, Q4_K_M, Mixed };

// How a file type picks each tensor's type: one type for every linear, llama.cpp's mix rule
// (attn_v, ffn_down, output), or each weight in the type of its own scheme in a mixed run.
enum class GgufRule { Single, LlamaMix, RunSchemes };

struct GgufFileTypeInfo {
  GgufFileType type;
  const char* format;    // export format: "gguf-q4_k_m"
  const char* suffix;    // file name suffix: "q4_k_m"
  uint32_t llama_ftype;  // general.file_type (llama.cpp's enum llama_ftype); RunSchemes: that of the type most matrices take
  GgmlType base;         // the type most tensors get (RunSchemes: none; Q8_0 stands for "quantized")
  GgufRule rule;
};

const std::vector<GgufFileTypeInfo>& gguf_file_types();
// The file type of an export format ("gguf-q4_k_m"); throws sq::Error for another.
const GgufFileTypeInfo& gguf_file_type(const std::string& format);

// One tensor as the rule sees it.
struct GgufTensorRole {
  std::string name;          // GGUF name: "blk.3.attn_v.weight", "output.weight", "token_embd.weight"
  std::vector<int64_t> ne;   // ggml order: ne[0] is the row width
  bool quantized_linear;     // a linear layer the run (or the export) quantizes
  GgmlType stored = GgmlType::F32;  // the checkpoint's float type, for what stays unquantized
  int64_t n_layers = 0;
  bool tied = false;         // token_embd doubles as the output head
  std::optional<GgmlType> run_type;  // the ggml type of the run's scheme for it (gguf_type_of_scheme), if the run quantized it
};

// The ggml type a weight scheme is written in: its own for llama.cpp's grids (gguf-q8_0,
// gguf-q4_0, gguf-q2_k ... gguf-q6_k); otherwise the ggml type of the same bits (8: Q8_0, 6: Q6_K,
// 5: Q5_K, 4: Q4_K, 3: Q3_K, 2: Q2_K; 7 rounds up to Q8_0), to which the weight is re-quantized.
GgmlType gguf_type_of_scheme(const QuantScheme& s);

// The ggml type `t` writes `tensor` in. One-dimensional tensors are F32. Single types write every
// quantized linear in their type and keep embeddings and head in their stored precision (float
// types: every matrix). Mixes follow llama.cpp: the output head (or the tied embedding) Q6_K,
// attn_v and ffn_down Q6_K in the layers use_more_bits picks (the first and last eighth, and
// every third between), the rest the base type; a row width the type's block does not divide
// falls back as llama.cpp falls back (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, else F16).
// RunSchemes: each matrix the run quantized in its run_type (with the same fallbacks), the rest
// in their stored precision.
GgmlType gguf_tensor_type(const GgufFileTypeInfo& t, const GgufTensorRole& tensor);

}  // namespace sq
