#include "core/quant/run_folder.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/model/llama.h"
#include "core/model/safetensors.h"

namespace sq {
namespace fs = std::filesystem;

QuantRun read_quant_run(const std::string& dir) {
  const fs::path path = fs::path(dir) / "run.json";
  std::ifstream in(path);
  if (!in) throw Error(dir, "not a quantization run folder (no run.json)");
  QuantRun r;
  try {
    const auto j = nlohmann::json::parse(in);
    r.dir = dir;
    r.model_dir = j.at("model").get<std::string>();
    r.method = j.at("method").get<std::string>();
    r.scheme = scheme_from_json(j.at("scheme").dump());
    r.layers = j.at("layers").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string(), std::string("malformed run.json: ") + e.what());
  }
  return r;
}

void write_quant_layer(const std::string& dir, int64_t layer, const std::map<std::string, QuantizedWeight>& weights,
                       const QuantScheme& scheme) {
  // Codes fit a byte on every grid: signed for symmetric and Q8_0, unsigned otherwise.
  const bool is_signed = scheme.w_kind == kernels::GridKind::Symmetric || scheme.w_kind == kernels::GridKind::GgufQ8_0;
  std::vector<torch::Tensor> keep;
  std::vector<TensorData> tensors;
  auto add = [&](const std::string& name, torch::Tensor t, DType dtype) {
    keep.push_back(t.contiguous());
    tensors.push_back({name, dtype, keep.back().sizes().vec(), keep.back().data_ptr(),
                       size_t(keep.back().numel() * keep.back().element_size())});
  };
  for (const auto& [name, q] : weights) {
    add(name + ".codes", q.codes.to(is_signed ? torch::kInt8 : torch::kUInt8), is_signed ? DType::I8 : DType::U8);
    add(name + ".scales", q.scales, DType::F32);
    add(name + ".zeros", q.zeros, DType::F32);
  }
  fs::create_directories(fs::path(dir) / "quant");
  write_safetensors((fs::path(dir) / "quant" / ("layer-" + std::to_string(layer) + ".safetensors")).string(), tensors,
                    {{"scheme", scheme.name}});
}

std::map<std::string, QuantizedWeight> read_quant_layer(const QuantRun& run, int64_t layer) {
  std::map<std::string, QuantizedWeight> out;
  const std::string path = (fs::path(run.dir) / "quant" / ("layer-" + std::to_string(layer) + ".safetensors")).string();
  const SafetensorsFile file(path);
  for (const auto& [name, view] : file.tensors()) {
    const std::string suffix = ".codes";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    const TensorView* scales = file.find(base + ".scales");
    const TensorView* zeros = file.find(base + ".zeros");
    if (!scales || !zeros) throw Error(path, "'" + base + "' lacks its scales or zero points");
    QuantizedWeight q;
    q.codes = as_tensor(view).to(torch::kInt32);
    q.scales = as_tensor(*scales).clone();
    q.zeros = as_tensor(*zeros).clone();
    const int64_t rows = q.codes.size(0), cols = q.codes.size(1);
    const int64_t krows = q.scales.size(0), groups = q.scales.size(1);
    if (q.zeros.sizes() != q.scales.sizes() || (rows * cols) % (krows * groups) != 0)
      throw Error(path, "'" + base + "' has scales that do not fit its codes");
    // Dequantize: each group's codes minus its zero point, times its scale.
    const torch::Tensor c = q.codes.to(torch::kFloat32).reshape({krows, groups, -1});
    q.dequant = ((c - q.zeros.unsqueeze(-1)) * q.scales.unsqueeze(-1)).reshape({rows, cols}).contiguous();
    out[base + ".weight"] = std::move(q);
  }
  return out;
}

std::map<std::string, torch::Tensor> read_quant_weights(const QuantRun& run) {
  std::map<std::string, torch::Tensor> out;
  for (int64_t i = 0; i < run.layers; ++i)
    for (auto& [name, q] : read_quant_layer(run, i)) out[name] = q.dequant;
  return out;
}

}  // namespace sq
