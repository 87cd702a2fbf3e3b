#pragma once
// The GGUF file types this project writes, and llama.cpp's rule for which tensor of a file gets
// which ggml type (src/llama-quant.cpp, llama_tensor_get_type, for LLaMA-family models without
// experts): one table and one function, so the rule lives in one place. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/gguf.h"

namespace sq {

enum class GgufFileType { F16, BF16, Q8_0, Q4_0, Q6_K, Q5_K, Q4_K, Q3_K, Q2_K, Q5_K_M, Q4_K_M };

struct GgufFileTypeInfo {
  GgufFileType type;
  const char* format;    // export format: "gguf-q4_k_m"
  const char* suffix;    // file name suffix: "q4_k_m"
  uint32_t llama_ftype;  // general.file_type (llama.cpp's enum llama_ftype)
  GgmlType base;         // the type most tensors get
  bool mix;              // llama.cpp's mix rule (attn_v, ffn_down, output) instead of one type for every linear
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
};

// The ggml type `t` writes `tensor` in. One-dimensional tensors are F32. Single types write every
// quantized linear in their type and keep embeddings and head in their stored precision (float
// types: every matrix). Mixes follow llama.cpp: the output head (or the tied embedding) Q6_K,
// attn_v and ffn_down Q6_K in the layers use_more_bits picks (the first and last eighth, and
// every third between), the rest the base type; a row width the type's block does not divide
// falls back as llama.cpp falls back (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, else F16).
GgmlType gguf_tensor_type(const GgufFileTypeInfo& t, const GgufTensorRole& tensor);

}  // namespace sq
