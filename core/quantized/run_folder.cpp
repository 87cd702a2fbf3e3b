#include "core/quantized/run_folder.h"

#include <filesystem>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/io/torch_view.h"
#include "core/quantized/ggml_grid.h"

namespace sq {
namespace fs = std::filesystem;

QuantRun read_quant_run(const std::string& dir) {
  QuantRun r;
  static_cast<RunRecord&>(r) = read_run_record(dir);
  r.dir = dir;
  return r;
}

QuantRun read_quant_run_for(const std::string& run_dir, const std::string& model_dir, int64_t layers) {
  QuantRun run = read_quant_run(run_dir);
  if (run.layers != layers)
    throw Error(run_dir, "this run quantized a " + std::to_string(run.layers) + "-layer model; " + model_dir + " has " +
                             std::to_string(layers) + " layers");
  return run;
}

namespace {

std::string layer_file(const std::string& dir, int64_t layer) {
  return (fs::path(dir) / "quant" / (layer < 0 ? std::string("globals.safetensors") : "layer-" + std::to_string(layer) + ".safetensors"))
      .string();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void write_quant_layer(const std::string& dir, int64_t layer, const std::map<std::string, QuantizedWeight>& weights,
                       const QuantScheme& scheme, const std::optional<SchemeMix>& mix, const std::map<std::string, torch::Tensor>& dense) {
  std::vector<torch::Tensor> keep;
  std::vector<TensorData> tensors;
  auto add = [&](const std::string& name, torch::Tensor t, DType dtype) {
    keep.push_back(t.to(torch::kCPU).contiguous());  // host: written to the file
    tensors.push_back({name, dtype, keep.back().sizes().vec(), keep.back().data_ptr(),
                       size_t(keep.back().numel() * keep.back().element_size())});
  };
  for (const auto& [name, q] : weights) {
    if (q.blocks.defined()) {
      add(name + ".blocks", q.blocks, DType::U8);
      continue;
    }
    // Codes fit a byte on every grid: signed for symmetric and Q8_0, unsigned otherwise.
    const QuantScheme* s = weight_scheme(name + ".weight", scheme, mix);
    if (!s) throw Error(layer_file(dir, layer), "'" + name + "' is not a weight the run's scheme quantizes");
    const bool is_signed = s->w_kind == kernels::GridKind::Symmetric || s->w_kind == kernels::GridKind::GgufQ8_0;
    add(name + ".codes", q.codes.to(is_signed ? torch::kInt8 : torch::kUInt8), is_signed ? DType::I8 : DType::U8);
    add(name + ".scales", q.scales, DType::F32);
    add(name + ".zeros", q.zeros, DType::F32);
  }
  for (const auto& [name, t] : dense) add(name, t.detach().to(torch::kFloat32), DType::F32);
  create_folder((fs::path(dir) / "quant").string());
  write_safetensors(layer_file(dir, layer), tensors, {{"scheme", scheme.name}});
}

torch::Tensor dequantize(const QuantizedWeight& q) {
  const int64_t rows = q.codes.size(0), cols = q.codes.size(1);
  const torch::Tensor c = q.codes.to(torch::kFloat32).reshape({q.scales.size(0), q.scales.size(1), -1});
  return ((c - q.zeros.unsqueeze(-1)) * q.scales.unsqueeze(-1)).reshape({rows, cols}).contiguous();
}

void check_run_shape(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& name,
                     const std::vector<int64_t>& shape, const std::string& file, const std::string& holder) {
  const auto it = shapes.find(name);
  if (it == shapes.end()) throw Error(file, "'" + name + "' is not a parameter of the model");
  if (it->second != shape) throw Error(file, "'" + name + "' is " + shape_text(shape) + " where " + holder + " " + shape_text(it->second));
}

std::map<std::string, QuantizedWeight> read_quant_layer(const QuantRun& run, int64_t layer, bool dequantize_weights) {
  std::map<std::string, QuantizedWeight> out;
  const std::string path = layer_file(run.dir, layer);
  if (layer < 0 && !fs::exists(path)) return out;
  const SafetensorsFile file(path);
  auto check_fits = [&](const std::string& name, const std::vector<int64_t>& shape) {
    if (!run.shapes.empty()) check_run_shape(run.shapes, name, shape, path, "the model has");
  };
  for (const auto& [name, view] : file.tensors()) {
    if (ends_with(name, ".scales") || ends_with(name, ".zeros")) continue;
    if (ends_with(name, ".blocks")) {  // a K-quant grid's rows as GGUF stores them
      const std::string base = name.substr(0, name.size() - 7);
      const QuantScheme* s = run.scheme_for(base + ".weight");
      if (!s || s->w_kind != kernels::GridKind::GgufK)
        throw Error(path, "'" + name + "' holds K-quant blocks, but the run's scheme for it, " + (s ? s->name : run.scheme.name) +
                              ", is not a K-quant grid");
      const GgmlType type = ggml_grid_type(*s);
      const auto shape = run.shapes.find(base + ".weight");
      if (view.dtype != DType::U8 || view.shape.size() != 2)
        throw Error(path, "'" + name + "' must be a U8 matrix of ggml blocks");
      // The width comes from the model; without it, from the bytes a row holds.
      const int64_t per_block = int64_t(ggml_row_bytes(type, ggml_block_size(type)));
      const int64_t cols = shape != run.shapes.end() ? shape->second.at(1) : view.shape[1] / per_block * ggml_block_size(type);
      if (cols % ggml_block_size(type) != 0 || int64_t(ggml_row_bytes(type, cols)) != view.shape[1])
        throw Error(path, "'" + name + "' has " + std::to_string(view.shape[1]) + " bytes a row, which do not hold " + std::to_string(cols) +
                              " values of " + ggml_type_name(type));
      check_fits(base + ".weight", {view.shape[0], cols});
      QuantizedWeight q;
      q.blocks = as_tensor(view).clone();
      q.dequant = dequantize_ggml_blocks(q.blocks, type, cols);  // always: no packed kernel runs K-quant blocks
      out[base + ".weight"] = std::move(q);
      continue;
    }
    if (!ends_with(name, ".codes")) {  // a parameter the run changed without quantizing it (rotation, smoothing)
      if (view.dtype != DType::F32 && view.dtype != DType::F16 && view.dtype != DType::BF16)
        throw Error(path, "'" + name + "' is " + dtype_name(view.dtype) + "; a changed parameter must be F32, F16 or BF16");
      check_fits(name, view.shape);
      out[name].dequant = as_tensor(view).clone();
      continue;
    }
    const std::string base = name.substr(0, name.size() - 6);
    const TensorView* scales = file.find(base + ".scales");
    const TensorView* zeros = file.find(base + ".zeros");
    if (!scales || !zeros) throw Error(path, "'" + base + "' lacks its scales or zero points");
    // Codes are a byte each; scales and zero points are fp32 [rows, groups] (groups dividing the
    // columns) or [1, 1] for the whole tensor: anything else would be read out of bounds.
    if ((view.dtype != DType::I8 && view.dtype != DType::U8) || scales->dtype != DType::F32 || zeros->dtype != DType::F32)
      throw Error(path, "'" + base + "': codes must be I8 or U8 and scales and zero points F32");
    if (view.shape.size() != 2 || scales->shape.size() != 2 || zeros->shape != scales->shape)
      throw Error(path, "'" + base + "': codes, scales and zero points must be matrices, scales and zero points of one shape");
    const int64_t rows = view.shape[0], cols = view.shape[1], krows = scales->shape[0], groups = scales->shape[1];
    if (!(krows == 1 && groups == 1) && (krows != rows || groups <= 0 || cols % groups != 0))
      throw Error(path, "'" + base + "' has scales " + shape_text(scales->shape) + " that do not fit its codes " + shape_text(view.shape));
    check_fits(base + ".weight", view.shape);
    QuantizedWeight q;
    q.codes = as_tensor(view).to(torch::kInt32);
    q.scales = as_tensor(*scales).clone();
    q.zeros = as_tensor(*zeros).clone();
    if (dequantize_weights) q.dequant = dequantize(q);
    out[base + ".weight"] = std::move(q);
  }
  return out;
}

std::map<std::string, torch::Tensor> read_quant_weights(const QuantRun& run) {
  std::map<std::string, torch::Tensor> out;
  for (int64_t i = -1; i < run.layers; ++i)
    for (auto& [name, q] : read_quant_layer(run, i))
      if (name != kResidualRotation) out[name] = q.dequant;
  return out;
}

torch::Tensor read_residual_rotation(const QuantRun& run) {
  const auto globals = read_quant_layer(run, -1);
  auto it = globals.find(kResidualRotation);
  return it == globals.end() ? torch::Tensor() : it->second.dequant;
}

}  // namespace sq
