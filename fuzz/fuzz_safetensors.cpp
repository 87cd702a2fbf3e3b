// The safetensors container: header length, JSON header, dtypes, shapes and data ranges.
#include "core/io/safetensors.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sq::fuzz::as_file(data, size, ".safetensors");
  return sq::fuzz::refused_only_by_name([&] {
    const sq::SafetensorsFile file(path);
    size_t bytes = 0;
    for (const auto& [name, view] : file.tensors()) bytes += size_t(view.numel()) * sq::dtype_size(view.dtype) + view.describe().size();
    if (bytes == size_t(-1)) std::abort();  // keeps the walk from being optimized away
  });
}
