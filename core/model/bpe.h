#pragma once
// The BPE model of Hugging Face tokenizers: a word's characters (or their byte-fallback tokens)
// merged pair by pair, lowest merge rank first, leftmost first among equals.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sq::tok {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::optional<std::string> continuing_subword_prefix;
  std::optional<std::string> end_of_word_suffix;
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;
};

class Bpe {
 public:
  // Throws std::invalid_argument when a merge names a token, or makes one, that the vocabulary
  // lacks, or the unk token is not in it.
  Bpe(std::unordered_map<std::string, int32_t> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
      BpeOptions options);

  // Appends the ids of one pre-tokenized word.
  void tokenize(const std::string& word, std::vector<int32_t>& out) const;

  std::optional<int32_t> id(const std::string& token) const;
  // The token of an id, or nullptr when the model has no such id.
  const std::string* token(int32_t id) const;
  int32_t size() const { return static_cast<int32_t>(vocab_.size()); }
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  std::vector<int32_t> merge_word(const std::string& word) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (left, right) -> (rank, new id)
  BpeOptions options_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace sq::tok
