// A model's config.json: fields, limits, rope scaling.
#include "core/model/config.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return sq::fuzz::refused_only_by_name([&] {
    const sq::ModelConfig c = sq::parse_config(text, "fuzz/config.json");
    sq::check_config(c, "fuzz/config.json");
    if (sq::to_json(c).empty()) std::abort();
  });
}
