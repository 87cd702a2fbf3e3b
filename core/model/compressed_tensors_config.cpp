#include "core/model/compressed_tensors_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

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
  const std::string format = text_of(q, "format", "", origin);
  const bool mixed = format == "mixed-precision";
  auto check_format = [&](const std::string& f, const std::string& where) {
    if (f != "int-quantized" && f != "pack-quantized")
      throw Error(origin, where + "compressed-tensors format '" + f + "' is not supported (int-quantized, pack-quantized" +
                              (where.empty() ? ", mixed-precision" : "") + ")");
  };
  if (!mixed) check_format(format, "");
  if (!q.contains("config_groups") || !q["config_groups"].is_object() || q["config_groups"].empty())
    throw Error(origin, "compressed-tensors needs at least one config group in 'config_groups'");
  // num_bits sizes shifts and code ranges: only widths integer kernels have.
  auto bits_of = [&](const json& object, const std::string& what) {
    const json v = object.contains("num_bits") ? object["num_bits"] : json();
    if (!v.is_number_integer() || v.get<int64_t>() < 2 || v.get<int64_t>() > 8)
      throw Error(origin, what + " num_bits must be a whole number from 2 to 8, got " + json_excerpt(v, 24));
    return int(v.get<int64_t>());
  };
  auto names_of = [&](const json& object, const char* key, const std::string& where) {
    ModuleTargets targets;
    const json v = object.contains(key) ? object[key] : json::array();
    if (!v.is_array()) throw Error(origin, where + "'" + key + "' must be a list of names, got " + json_excerpt(v, 24));
    for (const json& n : v) {
      if (!n.is_string()) throw Error(origin, where + "'" + key + "' must be a list of names, got " + json_excerpt(n, 24));
      const std::string t = n.get<std::string>();
      // std::regex recurses on a pattern's nesting: an untrusted pattern is kept short.
      if (t.size() > 1000) throw Error(origin, where + "'" + key + "' holds a name of more than 1000 characters");
      if (t.rfind("re:", 0) != 0) {
        targets.names.push_back(t);
        continue;
      }
      try {
        targets.patterns.emplace_back(t.substr(3));
      } catch (const std::regex_error&) {
        throw Error(origin, where + "'" + key + "' holds a pattern that is not a regular expression: " + json_excerpt(n, 60));
      }
    }
    return targets;
  };
  out.ignore = names_of(q, "ignore", "");
  bool first = true;
  for (const auto& [name, g] : q["config_groups"].items()) {
    const std::string where = "config group '" + name.substr(0, 40) + "': ";
    if (!g.is_object() || !g.contains("weights") || !g["weights"].is_object()) throw Error(origin, where + "no 'weights' object");
    CompressedTensorsGroup group;
    group.name = name;
    group.format = mixed ? text_of(g, "format", "", origin) : format;
    if (mixed) check_format(group.format, where);
    const json& w = g["weights"];
    if (text_of(w, "type", "int", origin) != "int") throw Error(origin, where + "weight type '" + text_of(w, "type", "", origin) + "' is not supported (int)");
    group.weight_bits = bits_of(w, where + "weights");
    group.strategy = text_of(w, "strategy", "", origin);
    if (group.strategy != "channel" && group.strategy != "group" && group.strategy != "tensor")
      throw Error(origin, where + "weight strategy '" + group.strategy + "' is not supported (tensor, channel, group)");
    if (group.format == "pack-quantized" && !flag_of(w, "symmetric", true, origin))
      throw Error(origin, where + "asymmetric packed weights are not supported");
    group.targets = names_of(g, "targets", where);
    if (group.targets.empty()) throw Error(origin, where + "targets no module");
    const json a = g.contains("input_activations") ? g["input_activations"] : json();
    int activation_bits = 16;
    if (a.is_object()) {
      if (!flag_of(a, "dynamic", false, origin) || text_of(a, "strategy", "", origin) != "token" || text_of(a, "type", "int", origin) != "int")
        throw Error(origin, where + "only dynamic per-token integer activation quantization is supported");
      activation_bits = bits_of(a, where + "input_activations");
    } else if (!a.is_null()) {
      throw Error(origin, where + "'input_activations' must be an object or null, got " + json_excerpt(a, 24));
    }
    if (!first && activation_bits != out.activation_bits)
      throw Error(origin, "config groups with different activation quantization are not supported (the engine quantizes every linear's input alike)");
    out.activation_bits = activation_bits;
    first = false;
    out.description += (out.description.empty() ? "" : "; ") + group.format + " w" + std::to_string(group.weight_bits) + " " + group.strategy;
    out.groups.push_back(std::move(group));
  }
  if (out.activation_bits < 16) out.description += ", a" + std::to_string(out.activation_bits) + " token";
  return out;
}

bool ModuleTargets::names_module(const std::string& module) const {
  return std::find(names.begin(), names.end(), module) != names.end();
}

bool ModuleTargets::matches_module(const std::string& module) const {
  for (const std::regex& p : patterns)
    if (std::regex_search(module, p, std::regex_constants::match_continuous)) return true;
  return false;
}

const CompressedTensorsGroup* CompressedTensorsConfig::group_of(const std::string& module) const {
  if (ignore.names_module(module) || ignore.matches_module(module)) return nullptr;
  for (const CompressedTensorsGroup& g : groups)
    if (g.targets.names_module(module)) return &g;
  for (const CompressedTensorsGroup& g : groups)
    if (g.targets.matches_module(module)) return &g;
  for (const CompressedTensorsGroup& g : groups)
    if (g.targets.names_module("Linear")) return &g;
  return nullptr;
}

}  // namespace sq
