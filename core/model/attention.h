#pragma once
// Causal self-attention whose scores are computed a bounded block at a time, so that a long
// prompt costs memory in proportion to its length, not to its square.
// Torch-facing: include only from the engine's own translation units.
#include <torch/torch.h>

#include <cstdint>

namespace sq {

// The most attention scores (elements of one [batch, heads, queries, keys] block) held at once.
// 16 Mi fp32 scores: 64 MB, and twice that with their softmax. Every demo-sized batch fits in one
// block, and then computes exactly as a single unchunked product would.
constexpr int64_t kAttentionScoresPerBlock = int64_t(1) << 24;

// Softmax attention of queries q [B, H, T, D] over keys and values k, v [B, H_kv, S, D], where
// the T queries are the last T positions of S (S - T earlier ones sit in a cache) and H is a
// multiple of H_kv (grouped-query attention: query head h reads key head h / (H / H_kv)).
// key_mask [B, S] (true: a real token; false: left padding) may be undefined for none. Query i
// sees keys 0 … S - T + i that are real tokens, and always itself, so that a padding row stays
// finite. Queries go in blocks of at most `scores_per_block` / (B · H · S) rows, each against
// only the keys its last row may see. Returns [B, T, H · D].
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& key_mask, int64_t scores_per_block = kAttentionScoresPerBlock);

}  // namespace sq
