#include "core/zoo/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.h"
#include "core/model/text_split.h"
#include "core/text/unicode_text.h"

namespace sq {
namespace {

nlohmann::json special_token(int id, const std::string& content) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false}, {"normalized", false},
          {"special", true}};
}

}  // namespace

std::string train_byte_level_bpe(const std::vector<std::string>& corpus, const BpeTrainOptions& o) {
  const int n_special = int(o.special_tokens.size());
  if (o.vocab_size < 256 + n_special) throw Error("BPE vocabulary must hold the 256 bytes and the special tokens");
  // Word counts after the same pre-tokenization the tokenizer will apply.
  const tok::Pattern gpt2(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", false);
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& text : corpus)
    for (const std::string& w : tok::split_text(text, gpt2, tok::SplitBehavior::Isolated)) ++counts[w];
  // Each word as a list of symbol ids; symbols start as the 256 byte characters.
  std::vector<std::string> symbols(256);
  for (int b = 0; b < 256; ++b) symbols[size_t(b)] = unicode::byte_to_char()[size_t(b)];
  struct Word {
    std::vector<int> ids;
    int64_t count;
  };
  std::vector<Word> words;
  std::map<std::string, int64_t> sorted(counts.begin(), counts.end());  // deterministic order
  for (const auto& [w, c] : sorted) {
    Word word{{}, c};
    for (unsigned char b : w) word.ids.push_back(b);
    words.push_back(std::move(word));
  }
  std::vector<std::pair<std::string, std::string>> merges;
  const int target = o.vocab_size - n_special;
  while (int(symbols.size()) < target) {
    std::unordered_map<uint64_t, int64_t> pairs;
    for (const Word& w : words)
      for (size_t i = 0; i + 1 < w.ids.size(); ++i) pairs[(uint64_t(w.ids[i]) << 32) | uint32_t(w.ids[i + 1])] += w.count;
    // The most frequent pair; ties go to the lexicographically smallest merged symbol pair.
    std::pair<int, int> best{-1, -1};
    int64_t best_count = 0;
    for (const auto& [key, c] : pairs) {
      const std::pair<int, int> p{int(key >> 32), int(key & 0xffffffffu)};
      if (c > best_count ||
          (c == best_count && best.first >= 0 &&
           std::make_pair(symbols[size_t(p.first)], symbols[size_t(p.second)]) <
               std::make_pair(symbols[size_t(best.first)], symbols[size_t(best.second)]))) {
        best = p;
        best_count = c;
      }
    }
    if (best.first < 0 || best_count < o.min_frequency) break;
    const int id = int(symbols.size());
    symbols.push_back(symbols[size_t(best.first)] + symbols[size_t(best.second)]);
    merges.emplace_back(symbols[size_t(best.first)], symbols[size_t(best.second)]);
    for (Word& w : words) {
      std::vector<int> out;
      for (size_t i = 0; i < w.ids.size(); ++i) {
        if (i + 1 < w.ids.size() && w.ids[i] == best.first && w.ids[i + 1] == best.second) {
          out.push_back(id);
          ++i;
        } else {
          out.push_back(w.ids[i]);
        }
      }
      w.ids = std::move(out);
    }
  }
  using nlohmann::json;
  json vocab = json::object();
  for (size_t i = 0; i < symbols.size(); ++i) vocab[symbols[i]] = i;
  json added = json::array();
  for (int k = 0; k < n_special; ++k) added.push_back(special_token(int(symbols.size()) + k, o.special_tokens[size_t(k)]));
  json merge_list = json::array();
  for (const auto& [a, b] : merges) merge_list.push_back(json::array({a, b}));
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  const json tokenizer = {{"version", "1.0"},
                          {"truncation", nullptr},
                          {"padding", nullptr},
                          {"added_tokens", added},
                          {"normalizer", nullptr},
                          {"pre_tokenizer", byte_level},
                          {"post_processor", byte_level},
                          {"decoder", byte_level},
                          {"model",
                           {{"type", "BPE"},
                            {"dropout", nullptr},
                            {"unk_token", nullptr},
                            {"continuing_subword_prefix", nullptr},
                            {"end_of_word_suffix", nullptr},
                            {"fuse_unk", false},
                            {"byte_fallback", false},
                            {"ignore_merges", false},
                            {"vocab", vocab},
                            {"merges", merge_list}}}};
  return tokenizer.dump();
}

std::string with_special_tokens(const std::string& tokenizer_json, const std::vector<std::string>& tokens) {
  nlohmann::json t = nlohmann::json::parse(tokenizer_json);
  int next = 0;
  for (const auto& [piece, id] : t.at("model").at("vocab").items()) next = std::max(next, id.get<int>() + 1);
  for (const auto& a : t.at("added_tokens")) next = std::max(next, a.at("id").get<int>() + 1);
  for (const std::string& token : tokens) t["added_tokens"].push_back(special_token(next++, token));
  return t.dump();
}

}  // namespace sq
