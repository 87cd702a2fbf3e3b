#pragma once
// Quantization schemes: the weight grid (bits, symmetric / asymmetric / llama.cpp blocks,
// granularity), dynamic per-token activation bits, and which linear layers. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/gguf.h"
#include "kernels/weight_quant_math.h"

namespace sq {

struct QuantScheme {
  std::string name;
  int w_bits = 8;
  kernels::GridKind w_kind = kernels::GridKind::Asymmetric;
  int64_t group = 0;      // columns per group; 0 = per output channel; -1 = per tensor
  int a_bits = 16;        // activations, quantized per token (symmetric) on the fly; 16 = not at all
  int kv_bits = 16;       // keys and values as the KV cache holds them (asymmetric per head); 16 = not at all
  int q_bits = 16;        // queries at the q·k product, on the keys' grid; 16 = not at all
  // The text named the attention bits (kv<b> / qkv<b>, 16 included), so no method default
  // replaces them.
  bool attention_named = false;
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  // Only the weights are quantized: activations, queries and the KV cache stay in full precision.
  bool weight_only() const { return a_bits >= 16 && kv_bits >= 16 && q_bits >= 16; }
  bool gguf_exact() const {
    return w_kind == kernels::GridKind::GgufQ8_0 || w_kind == kernels::GridKind::GgufQ4_0 || w_kind == kernels::GridKind::GgufK;
  }
  // Is a checkpoint parameter ("model.layers.3.mlp.up_proj.weight") a linear weight this scheme
  // quantizes (its linear's name ends with one of the targets)?
  bool quantizes(const std::string& param_name) const;
};

// Presets: w8a8, w4a4, w4a4kv4 (AAQ's setting), w4a16, w8a16, gguf-q8_0, gguf-q4_0, and llama.cpp's
// K-quants gguf-q2_k ... gguf-q6_k (super-blocks of 256, ggml_grid.h); or custom
// "w<bits>a<bits>[kv<4|8|16>|qkv<4|8|16>]" with optional "-g<group>" (32, 64, 128; "-gt" per
// tensor), "-sym" / "-asym". Throws sq::Error.
QuantScheme parse_scheme(const std::string& text);

// The preset names above, in the order front ends offer them.
const std::vector<std::string>& scheme_presets();

// OmniQuant's code, which Q-realign builds on, quantizes the queries, keys and values at the
// activation bits whenever activations are quantized (its q·k and attention-value matmul
// quantizers); a scheme that names its attention bits keeps them. Returns the scheme unchanged
// otherwise, or with q_bits = kv_bits = a_bits and the name marked "+qkv<bits>".
QuantScheme with_attention_at_activation_bits(QuantScheme s);

// The ggml type of a K-quant scheme (Q2_K for 2 bits ... Q6_K for 6); throws for other schemes.
GgmlType ggml_grid_type(const QuantScheme& s);

std::string to_json(const QuantScheme& s);
QuantScheme scheme_from_json(const std::string& json_text);

}  // namespace sq
