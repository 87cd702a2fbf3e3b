#include "core/model/bpe.h"

#include <cstdio>
#include <queue>
#include <stdexcept>

#include "core/error.h"
#include "core/text/unicode_text.h"

namespace sq::tok {
namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Symbol {
  int32_t id;
  int prev, next;
  size_t len;  // 0: merged into its left neighbour
};

struct Merge {
  int32_t rank;
  int pos;
  int32_t new_id;
  // std::priority_queue is a max-heap: the lowest rank, then the leftmost position, comes first.
  bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

constexpr size_t kCacheLimit = 100000;

}  // namespace

Bpe::Bpe(std::unordered_map<std::string, int32_t> vocab,
         const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  for (const auto& [tok, id] : vocab_) {
    if (id < 0) throw std::invalid_argument("negative id for token " + quote_value(tok));
    if (static_cast<size_t>(id) >= id_to_token_.size()) {
      id_to_token_.resize(static_cast<size_t>(id) + 1);
      has_id_.resize(static_cast<size_t>(id) + 1, false);
    }
    id_to_token_[static_cast<size_t>(id)] = tok;
    has_id_[static_cast<size_t>(id)] = true;
  }
  const std::string prefix = options_.continuing_subword_prefix.value_or("");
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end())
      throw std::invalid_argument("merge " + std::to_string(rank) + " (" + quote_value(a) + ", " + quote_value(b) + ") uses a token not in the vocabulary");
    const std::string merged = a + (b.rfind(prefix, 0) == 0 ? b.substr(prefix.size()) : b);
    auto im = vocab_.find(merged);
    if (im == vocab_.end())
      throw std::invalid_argument("merge " + std::to_string(rank) + " makes " + quote_value(merged) + ", which is not in the vocabulary");
    // A repeated merge keeps its last rank, as a map built from the list does.
    merges_.insert_or_assign(pair_key(ia->second, ib->second), std::make_pair(static_cast<int32_t>(rank), im->second));
  }
  if (options_.unk_token && !vocab_.count(*options_.unk_token))
    throw std::invalid_argument("unk_token '" + *options_.unk_token + "' is not in the vocabulary");
}

std::optional<int32_t> Bpe::id(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* Bpe::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[static_cast<size_t>(id)]) return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void Bpe::tokenize(const std::string& word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = merge_word(word);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() < kCacheLimit) cache_.emplace(word, std::move(ids));
}

std::vector<int32_t> Bpe::merge_word(const std::string& word) const {
  std::vector<Symbol> symbols;
  auto add = [&](int32_t id, size_t len) {
    const int n = static_cast<int>(symbols.size());
    symbols.push_back({id, n - 1, n + 1, len});
  };
  // A pending unknown: fused with the next one when fuse_unk, else flushed before it.
  bool has_unk = false;
  int32_t unk_id = -1;
  size_t unk_len = 0;
  const auto chars = unicode::utf8_chars(word);
  for (size_t i = 0; i < chars.size(); ++i) {
    std::string s = chars[i];
    const size_t byte_len = s.size();
    if (i > 0 && options_.continuing_subword_prefix) s = *options_.continuing_subword_prefix + s;
    if (i + 1 == chars.size() && options_.end_of_word_suffix) s += *options_.end_of_word_suffix;
    if (auto it = vocab_.find(s); it != vocab_.end()) {
      if (has_unk) add(unk_id, unk_len), has_unk = false;
      add(it->second, byte_len);
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> bytes;
      for (unsigned char b : s) {
        char code[8];
        std::snprintf(code, sizeof code, "<0x%02X>", b);
        auto it = vocab_.find(code);
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == s.size()) {
        for (int32_t b : bytes) add(b, 1);
        continue;
      }
    }
    if (options_.unk_token) {
      if (has_unk && options_.fuse_unk) {
        unk_len += byte_len;
      } else {
        if (has_unk) add(unk_id, unk_len);
        has_unk = true;
        unk_id = vocab_.at(*options_.unk_token);
        unk_len = byte_len;
      }
    }
  }
  if (has_unk) add(unk_id, unk_len);
  if (!symbols.empty()) symbols.back().next = -1;

  std::priority_queue<Merge> queue;
  auto consider = [&](int pos) {
    const int next = symbols[static_cast<size_t>(pos)].next;
    if (next < 0) return;
    auto it = merges_.find(pair_key(symbols[static_cast<size_t>(pos)].id, symbols[static_cast<size_t>(next)].id));
    if (it != merges_.end()) queue.push({it->second.first, pos, it->second.second});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.second != top.new_id) continue;  // stale entry
    left.id = top.new_id;
    left.len += right.len;
    left.next = right.next;
    right.len = 0;
    if (left.next >= 0) symbols[static_cast<size_t>(left.next)].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  std::vector<int32_t> ids;
  for (const Symbol& s : symbols)
    if (s.len > 0) ids.push_back(s.id);
  return ids;
}

}  // namespace sq::tok
