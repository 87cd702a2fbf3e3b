#pragma once
// A quantization run folder: run.json (run_record.h), quant/layer-<i>.safetensors (each quantized linear's integer codes, scales and zero
// points) and log.txt. Written to a temporary folder and renamed into place. Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/quantized/fake_quant_ops.h"
#include "core/quantized/run_record.h"
#include "core/quantized/scheme.h"
#include "core/quantized/scheme_mix.h"

namespace sq {

// A run folder opened for its tensors: its record (run.json) and where it is.
struct QuantRun : RunRecord {
  std::string dir;
  // The parameters of the model the run is applied to, by checkpoint name, with their shapes (and
  // the residual rotation's): when set, read_quant_layer refuses a tensor the model lacks or one
  // of another shape, naming the run's file, instead of failing later inside the forward pass.
  std::map<std::string, std::vector<int64_t>> shapes;
};

// Throws sq::Error naming `file` unless `name` is in `shapes` (QuantRun::shapes) with `shape`; `holder`
// says whose shapes they are, as the message reads: "'name' is [a, b] where <holder> [c, d]"
// ("the model has", "config.json gives").
void check_run_shape(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& name,
                     const std::vector<int64_t>& shape, const std::string& file, const std::string& holder);

// Reads run.json; throws sq::Error naming the folder.
QuantRun read_quant_run(const std::string& run_dir);
// The same, for applying the run to the `layers`-deep model in `model_dir`: refuses a run of a
// model with another depth. The caller unties the model's head when the run says `untied`.
QuantRun read_quant_run_for(const std::string& run_dir, const std::string& model_dir, int64_t layers);

// Writes one layer's quantized weights (name without ".weight" -> weight, each on its scheme:
// weight_scheme) and the parameters the run changed without quantizing them (`dense`, by
// checkpoint name). Layer -1: the model-wide parameters (embeddings, final norm, output head) in
// quant/globals.safetensors.
void write_quant_layer(const std::string& dir, int64_t layer, const std::map<std::string, QuantizedWeight>& weights,
                       const QuantScheme& scheme, const std::optional<SchemeMix>& mix,
                       const std::map<std::string, torch::Tensor>& dense = {});

// One layer's quantized linears by checkpoint weight name ("model.layers.<i>.mlp.up_proj.weight"):
// codes, scales and zero points as stored (K-quant grids: their blocks), and (with `dequantize`,
// and always for K-quant blocks) the dequantized weight;
// parameters changed without quantization have only `dequant`. Layer -1: the model-wide ones
// (empty when none).
std::map<std::string, QuantizedWeight> read_quant_layer(const QuantRun& run, int64_t layer, bool dequantize = true);

// A quantized weight's floating-point values: each group's codes minus its zero point, times its
// scale.
torch::Tensor dequantize(const QuantizedWeight& q);

// In quant/globals.safetensors when the run rotated the residual stream: Q [hidden, hidden],
// the quantized model's stream being the original's times Q.
inline constexpr const char* kResidualRotation = "residual_rotation";
torch::Tensor read_residual_rotation(const QuantRun& run);

// Every parameter the run replaces (dequantized linears, changed norms and embeddings), by
// checkpoint name.
std::map<std::string, torch::Tensor> read_quant_weights(const QuantRun& run);

}  // namespace sq
