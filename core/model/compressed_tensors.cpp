#include "core/model/compressed_tensors.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_file.h"
#include "core/model/llama.h"

namespace sq {

using json = nlohmann::json;

torch::Tensor pack_int32(const torch::Tensor& codes, int bits) {
  const int64_t per = 32 / bits, rows = codes.size(0), cols = codes.size(1);
  if (cols % per != 0) throw Error("packing needs a multiple of " + std::to_string(per) + " columns, not " + std::to_string(cols));
  const torch::Tensor u = (codes.to(torch::kInt64) + (int64_t(1) << (bits - 1))).reshape({rows, cols / per, per});
  const torch::Tensor shifts = torch::arange(per, torch::kInt64) * bits;
  // Summing disjoint bit fields in 64 bits, then keeping the low 32 as a signed int32 word.
  const torch::Tensor words = torch::bitwise_left_shift(u, shifts).sum(-1);
  return torch::where(words >= (int64_t(1) << 31), words - (int64_t(1) << 32), words).to(torch::kInt32);
}

torch::Tensor unpack_int32(const torch::Tensor& packed, int bits, int64_t cols) {
  const int64_t per = 32 / bits;
  const torch::Tensor w = torch::bitwise_and(packed.to(torch::kInt64), int64_t(0xffffffff));
  const torch::Tensor shifts = torch::arange(per, torch::kInt64) * bits;
  const torch::Tensor u = torch::bitwise_and(torch::bitwise_right_shift(w.unsqueeze(-1), shifts), (int64_t(1) << bits) - 1);
  return (u.reshape({packed.size(0), -1}).narrow(1, 0, cols) - (int64_t(1) << (bits - 1))).to(torch::kInt32);
}

bool is_compressed_tensors(const std::string& path) {
  const json c = read_json_file(path);
  return c.contains("quantization_config") && c["quantization_config"].value("quant_method", "") == "compressed-tensors";
}

CompressedTensors read_compressed_tensors(const std::string& model_dir, const Checkpoint& ckpt) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  const json q = read_json_file(path).at("quantization_config");
  CompressedTensors out;
  const std::string format = q.value("format", "");
  if (format != "int-quantized" && format != "pack-quantized")
    throw Error(path, "compressed-tensors format '" + format + "' is not supported (int-quantized, pack-quantized)");
  const json& groups = q.at("config_groups");
  if (groups.size() != 1) throw Error(path, "only one compressed-tensors config group is supported");
  const json& g = groups.begin().value();
  const json& w = g.at("weights");
  if (w.value("type", "int") != "int") throw Error(path, "weight type '" + w.value("type", "") + "' is not supported (int)");
  // num_bits sizes shifts and code ranges: only widths integer kernels have.
  auto bits_of = [&](const json& v, const char* what) {
    if (!v.is_number_integer() || v.get<int64_t>() < 2 || v.get<int64_t>() > 8)
      throw Error(path, std::string(what) + " num_bits must be a whole number from 2 to 8, got " + json_excerpt(v, 24));
    return int(v.get<int64_t>());
  };
  const int bits = bits_of(w.at("num_bits"), "weights");
  const std::string strategy = w.value("strategy", "");
  if (strategy != "channel" && strategy != "group" && strategy != "tensor")
    throw Error(path, "weight strategy '" + strategy + "' is not supported (tensor, channel, group)");
  if (format == "pack-quantized" && !w.value("symmetric", true))
    throw Error(path, "asymmetric packed weights are not supported");
  const json& a = g.value("input_activations", json());
  if (a.is_object()) {
    if (!a.value("dynamic", false) || a.value("strategy", "") != "token" || a.value("type", "int") != "int")
      throw Error(path, "only dynamic per-token integer activation quantization is supported");
    out.activation_bits = bits_of(a.at("num_bits"), "input_activations");
  }
  out.description = format + " w" + std::to_string(bits) + " " + strategy +
                    (out.activation_bits < 16 ? ", a" + std::to_string(out.activation_bits) + " token" : "");

  const std::string suffix = ".weight_scale";
  for (const std::string& name : ckpt.names()) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    const torch::Tensor scale = as_tensor(ckpt.tensor(name)).to(torch::kFloat32);
    torch::Tensor codes;
    if (format == "int-quantized") {
      const TensorView& v = ckpt.tensor(base + ".weight");
      if (v.dtype != DType::I8) throw Error(v.file->path(), "'" + base + ".weight' must be I8 in int-quantized format");
      codes = as_tensor(v).to(torch::kInt32);
    } else {
      const torch::Tensor shape = as_tensor(ckpt.tensor(base + ".weight_shape")).to(torch::kInt64);
      if (shape.numel() != 2) throw Error(path, "'" + base + ".weight_shape' must hold two numbers");
      const TensorView& v = ckpt.tensor(base + ".weight_packed");
      if (v.dtype != DType::I32) throw Error(v.file->path(), "'" + base + ".weight_packed' must be I32");
      codes = unpack_int32(as_tensor(v), bits, shape[1].item<int64_t>());
      if (codes.size(0) != shape[0].item<int64_t>()) throw Error(path, "'" + base + "' packed rows do not match weight_shape");
    }
    const int64_t rows = codes.size(0), cols = codes.size(1);
    torch::Tensor zero = torch::zeros_like(scale);
    if (ckpt.has(base + ".weight_zero_point")) zero = as_tensor(ckpt.tensor(base + ".weight_zero_point")).to(torch::kFloat32);
    const int64_t sr = scale.numel() == 1 ? 1 : scale.size(0), sg = scale.numel() == 1 ? 1 : scale.size(-1);
    if ((sr != rows && sr != 1) || cols % sg != 0 || zero.numel() != scale.numel())
      throw Error(path, "'" + name + "' does not fit the weight's shape");
    const torch::Tensor c = codes.to(torch::kFloat32).reshape({sr, sg, -1});
    out.dense[base + ".weight"] =
        ((c - zero.reshape({sr, sg, 1})) * scale.reshape({sr, sg, 1})).reshape({rows, cols}).contiguous();
  }
  if (out.dense.empty()) throw Error(path, "declares compressed-tensors quantization but no tensor has a weight_scale");
  return out;
}

}  // namespace sq
