#pragma once
// Learnable equivalent transformation (OmniQuant's LET, SmoothQuant's scales made trainable):
// the inputs of q/k/v and of gate/up are divided per channel by s, folded into the RMSNorm scale
// before them, and the linears' columns multiplied by s, so the full-precision function is
// unchanged while activation outliers move into the weights. Scales are kept as log s. Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>

namespace sq {

struct LayerSmoothing {
  torch::Tensor attn, mlp;  // log s [hidden] for the q/k/v inputs and the gate/up inputs
};

// SmoothQuant's start (alpha = 0.5): s_j = sqrt(max|x_j| / max|W_:,j|) from the per-channel
// activation maxima at the two inputs and layer i's weights.
LayerSmoothing init_smoothing(const std::map<std::string, torch::Tensor>& layer, int64_t i, const torch::Tensor& attn_absmax,
                              const torch::Tensor& mlp_absmax);

// Layer i's parameters with the smoothing folded in (differentiable in the scales).
std::map<std::string, torch::Tensor> apply_smoothing(const std::map<std::string, torch::Tensor>& layer, int64_t i,
                                                     const LayerSmoothing& s);

}  // namespace sq
