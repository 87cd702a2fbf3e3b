// tokenizer.json and encoding: the input is a tokenizer.json, optionally followed by a NUL byte
// and a text to encode with it (otherwise a fixed text with spaces, digits, accents and emoji).
#include <cstring>

#include "core/model/tokenizer.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* begin = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(begin, 0, size));
  const std::string json(begin, nul ? nul : begin + size);
  const std::string text = nul ? std::string(nul + 1, begin + size) : std::string("Hello, world! 123 héllo  \xF0\x9F\x98\x80 <s>x</s>\n\tend");
  return sq::fuzz::refused_only_by_name([&] {
    const sq::Tokenizer tok = sq::Tokenizer::from_json(json, "fuzz/tokenizer.json");
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = tok.encode(text, special);
      for (int32_t id : ids)
        if (id < 0) std::abort();  // ids index embeddings
      tok.decode(ids);
    }
  });
}
