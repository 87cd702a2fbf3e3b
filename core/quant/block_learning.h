#pragma once
// LWC (+ LET) and Q-realign's block learning: one decoder block's clip factors sigmoid(theta) and
// smoothing scales trained by AdamW on the block objective (reconstruction; Q-realign pushes
// malicious samples along the aligned model's probe), every weight itself frozen, as OmniQuant
// does. Torch-facing.
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/io/safetensors.h"
#include "core/model/llama.h"
#include "core/probe/probe_folder.h"
#include "core/quant/quant_layer.h"
#include "core/quant/quantizer.h"

namespace sq {

struct LearnedBlock {
  Params clips;                            // by weight name
  std::optional<LayerSmoothing> smoothing;
};

// Block i of the model `cq` computes with: `globals` and `layer` its parameters, `states` the
// block's inputs in the quantized model, `target` the outputs it reconstructs, `malicious` each
// batch's malicious rows, `probes` Q-realign's per layer. The loss curve and a note go to `result`.
LearnedBlock learn_block(const ModelConfig& cq, const std::shared_ptr<const Checkpoint>& weights, const Params& globals,
                         const Params& layer, int64_t i, int epochs, const std::vector<Llama::State>& states,
                         const std::vector<Llama::State>& target, const std::vector<Llama::Batch>& batches,
                         const std::vector<torch::Tensor>& malicious, const std::vector<LayerProbe>& probes, const QuantizeOptions& o,
                         QuantizeResult& result);

}  // namespace sq
