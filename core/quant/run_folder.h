#pragma once
// A quantization run folder: run.json (the resolved configuration, calibration ids, timings,
// log), quant/layer-<i>.safetensors (each quantized linear's integer codes, scales and zero
// points) and log.txt. Written to a temporary folder and renamed into place. Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>

#include "core/model/config.h"
#include "core/quant/fake_quant_ops.h"
#include "core/quant/scheme.h"

namespace sq {

struct QuantRun {
  std::string dir, model_dir, method;
  QuantScheme scheme;
  int64_t layers = 0;
  bool untied = false;  // the run unties the output head from the embeddings (rotation)
};

// Reads run.json; throws sq::Error naming the folder.
QuantRun read_quant_run(const std::string& run_dir);
// The same, for applying the run to the model in `model_dir` whose config is `config`: refuses a
// run of a model with another depth, and unties the config when the run untied the head.
QuantRun read_quant_run_for(const std::string& run_dir, const std::string& model_dir, ModelConfig& config);

// Writes one layer's quantized linears (name -> weight) and the parameters the run changed
// without quantizing them (`dense`, by checkpoint name). Layer -1: the model-wide parameters
// (embeddings, final norm, output head) in quant/globals.safetensors.
void write_quant_layer(const std::string& dir, int64_t layer, const std::map<std::string, QuantizedWeight>& weights,
                       const QuantScheme& scheme, const std::map<std::string, torch::Tensor>& dense = {});

// One layer's quantized linears by checkpoint weight name ("model.layers.<i>.mlp.up_proj.weight"):
// codes, scales and zero points as stored, and the dequantized weight; parameters changed
// without quantization have only `dequant`. Layer -1: the model-wide ones (empty when none).
std::map<std::string, QuantizedWeight> read_quant_layer(const QuantRun& run, int64_t layer);

// In quant/globals.safetensors when the run rotated the residual stream: Q [hidden, hidden],
// the quantized model's stream being the original's times Q.
inline constexpr const char* kResidualRotation = "residual_rotation";
torch::Tensor read_residual_rotation(const QuantRun& run);

// Every parameter the run replaces (dequantized linears, changed norms and embeddings), by
// checkpoint name.
std::map<std::string, torch::Tensor> read_quant_weights(const QuantRun& run);

}  // namespace sq
