#pragma once
// Learnable equivalent transformation (OmniQuant's LET, SmoothQuant's scales made trainable):
// the inputs of q/k/v and of gate/up are divided per channel by s, folded into the RMSNorm scale
// before them, and the linears' columns multiplied by s; and the attention output, the input of
// o_proj, is divided per channel by s folded into v_proj's rows (attention mixes tokens, never
// channels, so the division passes through it) and o_proj's columns multiplied by s. The
// full-precision function is unchanged while activation outliers move into the weights. Scales
// are kept as log s. Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>

#include "core/model/config.h"

namespace sq {

struct LayerSmoothing {
  torch::Tensor attn, mlp;  // log s [hidden] for the q/k/v inputs and the gate/up inputs
  torch::Tensor out;        // log s [kv_heads * head_dim] for v_proj's outputs, o_proj's inputs through the head groups
  LayerSmoothing detached() const;
};

// Per-channel max |x| at a block's linear inputs: q/k/v [hidden], gate/up [hidden], o_proj
// [heads * head_dim].
struct InputAbsMax {
  torch::Tensor attn, mlp, out;
};

// SmoothQuant's start (alpha = 0.5): s_j = sqrt(max|x_j| / max|W_:,j|) from the per-channel
// activation maxima at the inputs and layer i's weights (o_proj's channels that read one v
// channel are taken together).
LayerSmoothing init_smoothing(const ModelConfig& config, const std::map<std::string, torch::Tensor>& layer, int64_t i,
                              const InputAbsMax& absmax);

// Layer i's parameters with the smoothing folded in (differentiable in the scales).
std::map<std::string, torch::Tensor> apply_smoothing(const ModelConfig& config, const std::map<std::string, torch::Tensor>& layer,
                                                     int64_t i, const LayerSmoothing& s);

}  // namespace sq
