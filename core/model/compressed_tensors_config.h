#pragma once
// The "quantization_config" of a compressed-tensors config.json: its config groups (each a
// format, bit width and strategy, and the modules it targets), checked before any tensor is
// touched. Plain C++, so that the fuzz targets build without torch.
#include <regex>
#include <string>
#include <vector>

namespace sq {

// Modules a config lists: names (a module's own, or the class "Linear") and "re:" patterns,
// compiled once when the config is read.
struct ModuleTargets {
  std::vector<std::string> names;
  std::vector<std::regex> patterns;
  bool empty() const { return names.empty() && patterns.empty(); }
  bool names_module(const std::string& module) const;
  // A pattern matches from the start of the module's name, as Python's re.match.
  bool matches_module(const std::string& module) const;
};

struct CompressedTensorsGroup {
  std::string name;          // "group_0"
  std::string format;        // int-quantized | pack-quantized
  std::string strategy;      // tensor | channel | group
  int weight_bits = 8;       // 2..8
  ModuleTargets targets;
};

struct CompressedTensorsConfig {
  std::vector<CompressedTensorsGroup> groups;
  ModuleTargets ignore;             // modules left unquantized
  int activation_bits = 16;         // dynamic per-token integer activation quantization, or 16 (one for every group)
  std::string description;          // "int-quantized w8 channel, a8 token", or one part per group

  // The group a linear module ("model.layers.0.mlp.up_proj") is in, as compressed-tensors
  // matches: its name, then a "re:" pattern (matched from the start of the name, as Python's
  // re.match), then the class "Linear"; nullptr when none, or when `ignore` names it.
  const CompressedTensorsGroup* group_of(const std::string& module) const;
};

// Whether a config.json declares compressed-tensors quantization.
bool is_compressed_tensors(const std::string& config_json_path);

// Parses and checks a config.json text's quantization_config: one config group, or several under
// the format "mixed-precision" (each then naming its own format). Throws sq::Error naming `origin`
// and what is not supported (asymmetric packed weights, groups with different activation
// quantization, float types, a malformed pattern…).
CompressedTensorsConfig parse_compressed_tensors_config(const std::string& config_json_text, const std::string& origin);

}  // namespace sq
