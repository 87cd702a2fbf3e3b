#pragma once
// AAQ's training: smoothing scales of every layer trained end to end on the contrastive logit
// objective (core/quant/aaq.h: the model's own full-precision outputs as teacher, its unaligned
// base pushed away), with the quantized model's weights and per-token activations fake-quantized
// in the loop. Torch-facing.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "core/io/safetensors.h"
#include "core/model/llama.h"
#include "core/quant/quant_layer.h"
#include "core/quant/quantizer.h"
#include "core/quant/smoothing.h"

namespace sq {

// Every layer's smoothing, the best epoch's (the straight-through gradient is noisy). `c` is the
// model's config, `cq` the one the run computes with; `layer_params(i)` gives layer i's
// parameters (rotated when the run is). Refuses, before any work, a base of another vocabulary
// and a run that would not fit in memory. The curve, notes and objective figures go to `result`.
std::vector<LayerSmoothing> train_aaq(const ModelConfig& c, const ModelConfig& cq, const std::shared_ptr<const Checkpoint>& weights,
                                      const Params& globals, const std::function<Params(int64_t)>& layer_params,
                                      const std::vector<Llama::Batch>& batches, const QuantizeOptions& o, QuantizeResult& result);

}  // namespace sq
