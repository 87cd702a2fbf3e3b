#pragma once
// Trains a byte-level BPE tokenizer on a corpus and writes it as a standard Hugging Face
// tokenizer.json (GPT-2 pre-tokenizer regex, ByteLevel decoder), so the demo models go through
// the same tokenizer path as real ones.
#include <string>
#include <vector>

namespace sq {

struct BpeTrainOptions {
  int vocab_size = 1024;                  // bytes + merges + special tokens
  std::vector<std::string> special_tokens;  // appended after the merges, in this order
  int min_frequency = 2;
};

// Returns the tokenizer.json text.
std::string train_byte_level_bpe(const std::vector<std::string>& corpus, const BpeTrainOptions& options);

// The same tokenizer with `tokens` added as special tokens after its last id, in this order: the
// merges (and so every other text's ids) stay as they are.
std::string with_special_tokens(const std::string& tokenizer_json, const std::vector<std::string>& tokens);

}  // namespace sq
