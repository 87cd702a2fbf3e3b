#include "core/export/weight_source.h"

#include <filesystem>
#include <regex>

#include "core/error.h"
#include "core/model/llama.h"

namespace sq {

WeightSource::WeightSource(const std::string& model_dir, const std::string& quant_run) : model_dir_(model_dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(model_dir)) throw Error(model_dir, "not a model folder");
  config_ = load_config((fs::path(model_dir) / "config.json").string());
  ckpt_ = std::make_shared<const Checkpoint>(model_dir);
  if (!quant_run.empty()) {
    run_ = read_quant_run_for(quant_run, model_dir, config_.num_layers);
    if (run_->untied) config_.tie_word_embeddings = false;
    run_->shapes = run_shapes(config_);
    globals_ = read_quant_layer(*run_, -1);
  }
}

const QuantizedWeight* WeightSource::entry(const std::string& name) {
  if (!run_) return nullptr;
  if (auto it = globals_.find(name); it != globals_.end()) return &it->second;
  static const std::regex layer_re(R"(model\.layers\.(\d+)\..*)");
  std::smatch m;
  if (!std::regex_match(name, m, layer_re)) return nullptr;
  const int64_t layer = std::stoll(m[1]);
  if (layer != cached_layer_) {
    cached_ = read_quant_layer(*run_, layer);
    cached_layer_ = layer;
  }
  auto it = cached_.find(name);
  return it == cached_.end() ? nullptr : &it->second;
}

const QuantizedWeight* WeightSource::quantized(const std::string& name) {
  const QuantizedWeight* q = entry(name);
  return q && (q->codes.defined() || q->blocks.defined()) ? q : nullptr;
}

DType WeightSource::stored_dtype(const std::string& name) const {
  return ckpt_->has(name) ? ckpt_->tensor(name).dtype : ckpt_->tensor("model.embed_tokens.weight").dtype;
}

torch::Tensor WeightSource::dense(const std::string& name) {
  if (const QuantizedWeight* q = entry(name)) return q->dequant;
  return as_tensor(ckpt_->tensor(name)).to(torch::kFloat32);
}

}  // namespace sq
