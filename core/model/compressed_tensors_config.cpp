#include "core/model/compressed_tensors_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_file.h"

namespace sq {

using json = nlohmann::json;

namespace {

const json* quantization_config(const json& config) {
  if (!config.is_object() || !config.contains("quantization_config")) return nullptr;
  const json& q = config["quantization_config"];
  return q.is_object() && q.value("quant_method", json()) == "compressed-tensors" ? &q : nullptr;
}

// A string field, or `fallback` when absent; another type is refused by name.
std::string text_of(const json& object, const char* key, const std::string& fallback, const std::string& origin) {
  if (!object.contains(key)) return fallback;
  if (!object[key].is_string()) throw Error(origin, std::string("compressed-tensors '") + key + "' must be a string, got " + json_excerpt(object[key], 24));
  return object[key].get<std::string>();
}

bool flag_of(const json& object, const char* key, bool fallback, const std::string& origin) {
  if (!object.contains(key)) return fallback;
  if (!object[key].is_boolean()) throw Error(origin, std::string("compressed-tensors '") + key + "' must be true or false, got " + json_excerpt(object[key], 24));
  return object[key].get<bool>();
}

}  // namespace

bool is_compressed_tensors(const std::string& path) { return quantization_config(read_json_file(path)) != nullptr; }

CompressedTensorsConfig parse_compressed_tensors_config(const std::string& text, const std::string& origin) {
  const json config = parse_json(text, origin);
  const json* found = quantization_config(config);
  if (!found) throw Error(origin, "declares no compressed-tensors quantization_config");
  const json& q = *found;
  CompressedTensorsConfig out;
  out.format = text_of(q, "format", "", origin);
  if (out.format != "int-quantized" && out.format != "pack-quantized")
    throw Error(origin, "compressed-tensors format '" + out.format + "' is not supported (int-quantized, pack-quantized)");
  if (!q.contains("config_groups") || !q["config_groups"].is_object() || q["config_groups"].size() != 1)
    throw Error(origin, "compressed-tensors needs exactly one config group in 'config_groups'");
  const json& g = q["config_groups"].begin().value();
  if (!g.is_object() || !g.contains("weights") || !g["weights"].is_object())
    throw Error(origin, "the compressed-tensors config group has no 'weights' object");
  const json& w = g["weights"];
  if (text_of(w, "type", "int", origin) != "int") throw Error(origin, "weight type '" + text_of(w, "type", "", origin) + "' is not supported (int)");
  // num_bits sizes shifts and code ranges: only widths integer kernels have.
  auto bits_of = [&](const json& object, const char* what) {
    const json v = object.contains("num_bits") ? object["num_bits"] : json();
    if (!v.is_number_integer() || v.get<int64_t>() < 2 || v.get<int64_t>() > 8)
      throw Error(origin, std::string(what) + " num_bits must be a whole number from 2 to 8, got " + json_excerpt(v, 24));
    return int(v.get<int64_t>());
  };
  out.weight_bits = bits_of(w, "weights");
  out.strategy = text_of(w, "strategy", "", origin);
  if (out.strategy != "channel" && out.strategy != "group" && out.strategy != "tensor")
    throw Error(origin, "weight strategy '" + out.strategy + "' is not supported (tensor, channel, group)");
  if (out.format == "pack-quantized" && !flag_of(w, "symmetric", true, origin))
    throw Error(origin, "asymmetric packed weights are not supported");
  const json a = g.contains("input_activations") ? g["input_activations"] : json();
  if (a.is_object()) {
    if (!flag_of(a, "dynamic", false, origin) || text_of(a, "strategy", "", origin) != "token" || text_of(a, "type", "int", origin) != "int")
      throw Error(origin, "only dynamic per-token integer activation quantization is supported");
    out.activation_bits = bits_of(a, "input_activations");
  } else if (!a.is_null()) {
    throw Error(origin, "compressed-tensors 'input_activations' must be an object or null, got " + json_excerpt(a, 24));
  }
  out.description = out.format + " w" + std::to_string(out.weight_bits) + " " + out.strategy +
                    (out.activation_bits < 16 ? ", a" + std::to_string(out.activation_bits) + " token" : "");
  return out;
}

}  // namespace sq
