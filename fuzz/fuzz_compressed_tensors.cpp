// The quantization_config of a compressed-tensors config.json.
#include "core/model/compressed_tensors_config.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return sq::fuzz::refused_only_by_name([&] {
    const sq::CompressedTensorsConfig c = sq::parse_compressed_tensors_config(text, "fuzz/config.json");
    for (const sq::CompressedTensorsGroup& g : c.groups)
      if (g.weight_bits < 2 || g.weight_bits > 8) std::abort();
    c.group_of("model.layers.0.mlp.up_proj");
  });
}
