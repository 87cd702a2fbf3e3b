#pragma once
// What an exporter reads: the model's checkpoint, and the run's quantized linears when there is
// a run, one layer at a time (the last layer read is kept, so tensors in checkpoint order read
// each run file once). Torch-facing; for the exporters only.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/model/config.h"
#include "core/io/safetensors.h"
#include "core/quantized/run_folder.h"

namespace sq {

class WeightSource {
 public:
  WeightSource(const std::string& model_dir, const std::string& quant_run);

  const ModelConfig& config() const { return config_; }
  const Checkpoint& checkpoint() const { return *ckpt_; }
  const std::string& model_dir() const { return model_dir_; }
  const std::optional<QuantRun>& run() const { return run_; }

  // The run's quantized form of a weight (codes, scales, zeros; or K-quant blocks), or null when the run did not
  // quantize it (or there is no run). The config is the run's: untied when the run untied it.
  const QuantizedWeight* quantized(const std::string& name);
  // The weight as the evaluated model computes with it, fp32: dequantized when quantized.
  torch::Tensor dense(const std::string& name);
  // The checkpoint's stored dtype of a tensor (of the embeddings for an output head the run untied).
  DType stored_dtype(const std::string& name) const;

 private:
  std::string model_dir_;
  ModelConfig config_;
  std::shared_ptr<const Checkpoint> ckpt_;
  std::optional<QuantRun> run_;
  // The run's entry for a parameter: quantized, or only changed (rotation, smoothing); else null.
  const QuantizedWeight* entry(const std::string& name);

  std::map<std::string, QuantizedWeight> globals_;
  int64_t cached_layer_ = -1;
  std::map<std::string, QuantizedWeight> cached_;
};

}  // namespace sq
