#pragma once
// The "quantization_config" of a compressed-tensors config.json: which of its formats, bit
// widths and strategies the engine reads, checked before any tensor is touched. Plain C++, so
// that the fuzz targets build without torch.
#include <string>

namespace sq {

struct CompressedTensorsConfig {
  std::string format;        // int-quantized | pack-quantized
  std::string strategy;      // tensor | channel | group
  int weight_bits = 8;       // 2..8
  int activation_bits = 16;  // dynamic per-token integer activation quantization, or 16
  std::string description;   // "int-quantized w8 channel, a8 token"
};

// Whether a config.json declares compressed-tensors quantization.
bool is_compressed_tensors(const std::string& config_json_path);

// Parses and checks a config.json text's quantization_config. Throws sq::Error naming `origin`
// and what is not supported (asymmetric packed weights, several config groups, float types…).
CompressedTensorsConfig parse_compressed_tensors_config(const std::string& config_json_text, const std::string& origin);

}  // namespace sq
