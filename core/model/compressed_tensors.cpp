#include "core/model/compressed_tensors.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_file.h"
#include "core/model/llama.h"
#include "core/quantized/run_folder.h"

namespace sq {

using json = nlohmann::json;

torch::Tensor pack_int32(const torch::Tensor& codes, int bits) {
  const int64_t per = 32 / bits, rows = codes.size(0), cols = codes.size(1), words_per_row = (cols + per - 1) / per;
  // A row whose codes do not fill its last word is padded with zero bits, as compressed-tensors pads.
  const torch::Tensor u = torch::constant_pad_nd(codes.to(torch::kInt64) + (int64_t(1) << (bits - 1)), {0, words_per_row * per - cols}, 0)
                              .reshape({rows, words_per_row, per});
  const torch::Tensor shifts = torch::arange(per, beside(codes, torch::kInt64)) * bits;
  // Summing disjoint bit fields in 64 bits, then keeping the low 32 as a signed int32 word.
  const torch::Tensor words = torch::bitwise_left_shift(u, shifts).sum(-1);
  return torch::where(words >= (int64_t(1) << 31), words - (int64_t(1) << 32), words).to(torch::kInt32);
}

torch::Tensor unpack_int32(const torch::Tensor& packed, int bits, int64_t cols) {
  const int64_t per = 32 / bits;
  const torch::Tensor w = torch::bitwise_and(packed.to(torch::kInt64), int64_t(0xffffffff));
  const torch::Tensor shifts = torch::arange(per, beside(packed, torch::kInt64)) * bits;
  const torch::Tensor u = torch::bitwise_and(torch::bitwise_right_shift(w.unsqueeze(-1), shifts), (int64_t(1) << bits) - 1);
  return (u.reshape({packed.size(0), -1}).narrow(1, 0, cols) - (int64_t(1) << (bits - 1))).to(torch::kInt32);
}

CompressedTensors read_compressed_tensors(const std::string& model_dir, const Checkpoint& ckpt, const ModelConfig& config) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  const CompressedTensorsConfig q = parse_compressed_tensors_config(read_text_file(path), path);
  CompressedTensors out;
  out.activation_bits = q.activation_bits;
  out.description = q.description;

  const std::string suffix = ".weight_scale";
  const auto shapes = run_shapes(config);
  for (const std::string& name : ckpt.names()) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    const TensorView& scale_view = ckpt.tensor(name);
    const CompressedTensorsGroup* group = q.group_of(base);
    if (!group) throw Error(scale_view.file->path(), "'" + name + "' is quantized, but no config group of " + path + " targets '" + base + "'");
    const std::string& format = group->format;
    const std::string& strategy = group->strategy;
    const int bits = group->weight_bits;
    const torch::Tensor scale = as_tensor(scale_view).to(torch::kFloat32);
    torch::Tensor codes;
    if (format == "int-quantized") {
      const TensorView& v = ckpt.tensor(base + ".weight");
      if (v.dtype != DType::I8 || v.shape.size() != 2)
        throw Error(v.file->path(), "'" + base + ".weight' must be an I8 matrix in int-quantized format, not " + v.describe());
      check_run_shape(shapes, base + ".weight", v.shape, v.file->path(), "config.json gives");
      codes = as_tensor(v).to(torch::kInt32);
    } else {
      const TensorView& shape_view = ckpt.tensor(base + ".weight_shape");
      const torch::Tensor shape = as_tensor(shape_view).to(torch::kInt64);
      if (shape.numel() != 2) throw Error(shape_view.file->path(), "'" + base + ".weight_shape' must hold two numbers");
      const TensorView& v = ckpt.tensor(base + ".weight_packed");
      if (v.dtype != DType::I32 || v.shape.size() != 2)
        throw Error(v.file->path(), "'" + base + ".weight_packed' must be an I32 matrix, not " + v.describe());
      // Each row holds ceil(columns / codes per word) words.
      const int64_t rows = shape[0].item<int64_t>(), cols = shape[1].item<int64_t>(), per = 32 / bits;
      if (rows != v.shape[0] || cols <= 0 || (cols + per - 1) / per != v.shape[1])
        throw Error(shape_view.file->path(), "'" + base + ".weight_shape' " + shape_text({rows, cols}) + " does not fit '" + base +
                                                 ".weight_packed' " + v.describe() + " at " + std::to_string(bits) + " bits");
      check_run_shape(shapes, base + ".weight", {rows, cols}, shape_view.file->path(), "config.json gives");
      codes = unpack_int32(as_tensor(v), bits, cols);
    }
    const int64_t rows = codes.size(0), cols = codes.size(1);
    torch::Tensor zero = torch::zeros_like(scale);
    if (ckpt.has(base + ".weight_zero_point")) zero = as_tensor(ckpt.tensor(base + ".weight_zero_point")).to(torch::kFloat32);
    const int64_t sr = scale.numel() == 1 ? 1 : scale.size(0), sg = scale.numel() == 1 ? 1 : scale.size(-1);
    if (scale.dim() > 2 || scale.numel() != sr * sg || (sr != rows && sr != 1) || sg <= 0 || cols % sg != 0 ||
        zero.numel() != scale.numel())
      throw Error(scale_view.file->path(),
                  "'" + name + "' " + scale_view.describe() + " (or its zero point) does not fit the weight " + shape_text({rows, cols}));
    // The scale's layout must be the one the config declares: a per-channel scale redeclared as
    // one value would otherwise dequantize every row with the first row's scale.
    const bool fits = strategy == "tensor" ? scale.numel() == 1
                      : strategy == "channel" ? sr == rows && sg == 1
                                                : sr == rows && sg >= 1;
    if (!fits)
      throw Error(scale_view.file->path(), "'" + name + "' " + scale_view.describe() + " is not a " + strategy +
                                               "-strategy scale for the weight " + shape_text({rows, cols}) + " (config.json's " +
                                               group->name + " declares \"" + strategy + "\")");
    const torch::Tensor c = codes.to(torch::kFloat32).reshape({sr, sg, -1});
    out.dense[base + ".weight"] =
        ((c - zero.reshape({sr, sg, 1})) * scale.reshape({sr, sg, 1})).reshape({rows, cols}).contiguous();
  }
  if (out.dense.empty()) throw Error(path, "declares compressed-tensors quantization but no tensor has a weight_scale");
  return out;
}

}  // namespace sq
