#include "core/model/text_split.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <stdexcept>

#include "core/error.h"
#include "core/text/unicode_text.h"

namespace sq::tok {

SplitBehavior parse_split_behavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  throw std::invalid_argument("unknown split behavior '" + name + "'");
}

struct Pattern::Impl {
  pcre2_code* code = nullptr;
  std::string literal;
  bool is_literal = false;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

Pattern::Pattern(const std::string& pattern, bool literal) : impl_(std::make_unique<Impl>()) {
  impl_->is_literal = literal;
  if (literal) {
    if (pattern.empty()) throw std::invalid_argument("empty split string");
    impl_->literal = pattern;
    return;
  }
  int err = 0;
  PCRE2_SIZE offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw std::invalid_argument("regex '" + pattern + "' at offset " + std::to_string(offset) + ": " +
                                reinterpret_cast<const char*>(msg));
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // optional speed-up; interpretation still works
}

Pattern::~Pattern() = default;
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;

std::vector<std::pair<size_t, size_t>> Pattern::find_all(const std::string& text) const {
  std::vector<std::pair<size_t, size_t>> out;
  if (impl_->is_literal) {
    for (size_t at = text.find(impl_->literal); at != std::string::npos;
         at = text.find(impl_->literal, at + impl_->literal.size()))
      out.emplace_back(at, at + impl_->literal.size());
    return out;
  }
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  // PCRE2 checks the UTF-8 of the subject from the start offset on at every call unless told not
  // to, which made splitting quadratic in the text's length: the first call checks it, the rest
  // trust that check.
  uint32_t options = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(impl_->code, subject, text.size(), start, options, md, nullptr);
    options = PCRE2_NO_UTF_CHECK;
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {  // ill-formed UTF-8 (callers check it first), or a match limit reached
      pcre2_match_data_free(md);
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw Error(std::string("splitting text with a tokenizer pattern failed: ") + reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    out.emplace_back(ov[0], ov[1]);
    if (ov[1] > ov[0]) {
      start = ov[1];
    } else {  // an empty match: step over one character, as every regex engine's iterator does
      if (ov[1] >= text.size()) break;
      start = ov[1] + static_cast<size_t>(unicode::utf8_length(static_cast<unsigned char>(text[ov[1]])));
    }
  }
  pcre2_match_data_free(md);
  return out;
}

std::string Pattern::replace_all(const std::string& text, const std::string& with, size_t max_bytes) const {
  std::string out;
  size_t prev = 0;
  for (auto [s, e] : find_all(text)) {
    out.append(text, prev, s - prev);
    out += with;
    prev = e;
    if (out.size() > max_bytes) throw std::length_error("replacement output past its bound");
  }
  out.append(text, prev, std::string::npos);
  return out;
}

std::vector<std::string> split_text(const std::string& text, const Pattern& pattern, SplitBehavior behavior,
                                    bool invert) {
  // (range, is_match) covering the whole text, as tokenizers' Pattern::find_matches gives.
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> parts;
  size_t prev = 0;
  for (auto m : pattern.find_all(text)) {
    if (m.first != prev) parts.push_back({{prev, m.first}, false});
    parts.push_back({m, true});
    prev = m.second;
  }
  if (prev != text.size() || text.empty()) parts.push_back({{prev, text.size()}, false});
  if (invert)
    for (auto& p : parts) p.second = !p.second;

  // Mirrors tokenizers' NormalizedString::split: `previous` is whether the part before (after,
  // for MergedWithNext, which walks backwards) was a match.
  std::vector<std::pair<size_t, size_t>> pieces;
  bool previous = false;
  auto absorb = [&](std::pair<size_t, size_t> range, bool merge, bool backwards) {
    if (merge && !pieces.empty()) {
      if (backwards)
        pieces.back().first = range.first;
      else
        pieces.back().second = range.second;
    } else {
      pieces.push_back(range);
    }
  };
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& [range, is_match] : parts)
        if (!is_match) pieces.push_back(range);
      break;
    case SplitBehavior::Isolated:
      for (const auto& part : parts) pieces.push_back(part.first);
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& [range, is_match] : parts) {
        absorb(range, is_match && !previous, false);
        previous = is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        absorb(it->first, it->second && !previous, true);
        previous = it->second;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    case SplitBehavior::Contiguous:
      for (const auto& [range, is_match] : parts) {
        absorb(range, is_match == previous, false);
        previous = is_match;
      }
      break;
  }
  std::vector<std::string> out;
  for (auto [s, e] : pieces)
    if (e > s) out.push_back(text.substr(s, e - s));
  return out;
}

}  // namespace sq::tok
