#pragma once
// Learnable equivalent transformation (OmniQuant's LET, SmoothQuant's scales made trainable):
// the inputs of q/k/v and of gate/up are divided per channel by s, folded into the RMSNorm scale
// before them, and the linears' columns multiplied by s; the attention output, the input of
// o_proj, is divided per channel by s folded into v_proj's rows (attention mixes tokens, never
// channels, so the division passes through it) and o_proj's columns multiplied by s; and the
// queries are divided per channel by s folded into q_proj's rows while the keys are multiplied by
// it in k_proj's rows, which leaves q·k unchanged. The rotary embedding mixes channel j of a head
// with channel j + head_dim/2, so those two share one q·k scale and the rotation commutes with it.
// The full-precision function is unchanged while outliers move between activations and weights,
// or between queries and keys. Scales are kept as log s. Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/run/torch_device.h"

namespace sq {

struct LayerSmoothing {
  torch::Tensor attn, mlp;  // log s [hidden] for the q/k/v inputs and the gate/up inputs
  torch::Tensor out;        // log s [kv_heads * head_dim] for v_proj's outputs, o_proj's inputs through the head groups
  torch::Tensor qk;         // log s [kv_heads * head_dim / 2] for k_proj's outputs (each rotary pair), q_proj's through the head groups
  // Copies that are leaves of no graph.
  LayerSmoothing detached() const;
  // Every scale, made to require gradients: what an optimizer trains.
  std::vector<torch::Tensor> trainable();
};

// Per-channel max |x| at a block's linear inputs: q/k/v [hidden], gate/up [hidden], o_proj
// [heads * head_dim].
struct InputAbsMax {
  torch::Tensor attn, mlp, out;
};

// SmoothQuant's start (alpha = 0.5): s_j = sqrt(max|x_j| / max|W_:,j|) from the per-channel
// activation maxima at the inputs and layer i's weights (o_proj's channels that read one v
// channel are taken together); the q·k scales start at 1, as OmniQuant starts them.
LayerSmoothing init_smoothing(const ModelConfig& config, const std::map<std::string, torch::Tensor>& layer, int64_t i,
                              const InputAbsMax& absmax);

// Layer i's parameters with the smoothing folded in (differentiable in the scales).
std::map<std::string, torch::Tensor> apply_smoothing(const ModelConfig& config, const std::map<std::string, torch::Tensor>& layer,
                                                     int64_t i, const LayerSmoothing& s);

}  // namespace sq
