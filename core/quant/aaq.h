#pragma once
// AAQ's alignment-preserving contrastive objective on output logits:
//   L = KL(p_fp || p_q) - lambda * KL(p_base || p_q)
// pulling the quantized model toward the full-precision aligned model and pushing it away from
// the unaligned base it was aligned from. Both terms are taken over the aligned model's top-K
// tokens at each position (each distribution renormalized over those K), which keeps the push
// term bounded and ignores the long tail. Torch-facing.
#include <torch/torch.h>

namespace sq {

struct AaqTargets {
  torch::Tensor index;      // [B, T, K] int64: the aligned model's top-K token ids
  torch::Tensor fp_logp;    // [B, T, K] its log-probabilities renormalized over them
  torch::Tensor base_logp;  // [B, T, K] the base model's, over the same ids
};

AaqTargets aaq_targets(const torch::Tensor& fp_logits, const torch::Tensor& base_logits, int64_t top_k);

struct AaqLoss {
  torch::Tensor loss, pull, push;  // loss = pull - lambda * push, each averaged over real tokens
};

// q_logits [B, T, V]; mask [B, T] (1 = real token) or undefined.
AaqLoss aaq_loss(const torch::Tensor& q_logits, const AaqTargets& targets, const torch::Tensor& mask, double lambda);

}  // namespace sq
