// Tokenizing speed against text length: one real tokenizer.json (GPT-2's byte-level BPE by
// default) on shipped prompt text repeated to 100 KB, 1 MB and 4 MB, on one thread. Linear time
// shows as the same MB/s at every length.
//   bench_tokenize [tokenizer.json]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "core/model/tokenizer.h"

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SQ_SOURCE_DIR) + "/tests/data/tokenizers/gpt2/tokenizer.json";
  const sq::Tokenizer tok = sq::Tokenizer::load(path);
  std::ifstream in(std::string(SQ_SOURCE_DIR) + "/resources/data/benign_instructions.jsonl");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string source = ss.str();
  std::printf("%s\n%10s %10s %10s %8s\n", path.c_str(), "bytes", "tokens", "seconds", "MB/s");
  for (size_t n : {size_t(100) << 10, size_t(1) << 20, size_t(4) << 20}) {
    std::string text;
    while (text.size() < n) text += source;
    text.resize(n);
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();  // whole characters
    const auto t0 = std::chrono::steady_clock::now();
    const size_t tokens = tok.encode(text).size();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%10zu %10zu %10.3f %8.2f\n", text.size(), tokens, s, double(text.size()) / 1e6 / s);
  }
  return 0;
}
