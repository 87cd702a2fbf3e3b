// Prompt files: the first byte picks CSV (odd) or JSONL (even), the rest is the file.
#include "core/data/prompt_set.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string path = sq::fuzz::as_file(data + 1, size - 1, (data[0] & 1) ? ".csv" : ".jsonl");
  return sq::fuzz::refused_only_by_name([&] {
    for (const sq::Prompt& p : sq::load_prompts(path))
      if (p.label != 0 && p.label != 1) std::abort();  // labels are malicious (1) or benign (0)
  });
}
