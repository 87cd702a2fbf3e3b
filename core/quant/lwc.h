#pragma once
// Learnable weight clipping (OmniQuant's LWC): each group's grid range is scaled by a factor
// sigmoid(theta) in (0, 1), trained block by block through a straight-through fake quantizer,
// under a pluggable objective: plain reconstruction, or Q-realign's per-sample loss (benign:
// MSE to the full-precision block; malicious: softplus(-(h_last . w + b)) with the layer's SLR
// probe). Torch-facing.
#include <torch/torch.h>

#include "core/quantized/scheme.h"

namespace sq {

// The fake-quantized weight as a differentiable function of the weight and the clip factors
// [rows, groups]: rounding passes gradients straight through, as OmniQuant's round_ste does.
// Forward and backward are the kernels' (kernels/weight_quant.h), on the weights' device.
torch::Tensor fake_quant_weight_ste(const torch::Tensor& w, const QuantScheme& scheme, const torch::Tensor& clip);

struct BlockObjective {
  bool q_realign = false;
  torch::Tensor probe_w;  // [hidden]
  double probe_b = 0;
};

// Per-sample losses averaged over the batch. out, target [B, T, H]; mask [B, T] (1 = real token);
// malicious [B] (bool). Reconstruction uses MSE for every sample.
torch::Tensor block_loss(const torch::Tensor& out, const torch::Tensor& target, const torch::Tensor& mask,
                         const torch::Tensor& malicious, const BlockObjective& objective);

}  // namespace sq
