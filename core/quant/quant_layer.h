#pragma once
// A decoder layer's parameters as the quantizer's training sees them: by name, merged over the
// model's, their clip factors' shape, the input ranges smoothing starts from, and the layer
// fake-quantized with straight-through rounding. Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/model/llama.h"
#include "core/quant/smoothing.h"
#include "core/quantized/scheme.h"
#include "core/quantized/scheme_mix.h"

namespace sq {

using Params = std::map<std::string, torch::Tensor>;

// `a` with every tensor of `b` put in (replacing those of the same name).
Params merged(Params a, const Params& b);

// A tensor of the shape of a weight's clip factors: [rows, groups], or [1, groups] per tensor.
torch::Tensor clip_shape(const torch::Tensor& w, const QuantScheme& s);

// Per channel max |x| at the q/k/v, o_proj and gate/up inputs of block i, over real tokens.
InputAbsMax input_absmax(const Llama& net, int64_t i, const std::vector<Llama::State>& states, const std::vector<Llama::Batch>& batches);

// Layer i's parameters as the quantized model computes with them while training: smoothed, and
// the targeted linears (each on its scheme: weight_scheme) fake-quantized with straight-through
// rounding on sigmoid(clip_logits) (1 where a weight has none).
Params fake_quantized_layer(const ModelConfig& c, const Params& layer, int64_t i, const LayerSmoothing* smoothing,
                            const Params& clip_logits, const QuantScheme& scheme, const std::optional<SchemeMix>& mix);

}  // namespace sq
