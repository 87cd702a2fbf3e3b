#pragma once
// Splitting text the way Hugging Face tokenizers do: PCRE2 regexes (UTF, Unicode properties) or
// literals find the matches, and a split behaviour decides where they go.
#include <memory>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sq::tok {

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Parses "Removed", "Isolated", … as tokenizer.json spells them; throws std::invalid_argument.
SplitBehavior parse_split_behavior(const std::string& name);

class Pattern {
 public:
  // A regular expression (PCRE2, UTF + UCP) or, when `literal`, a plain string.
  Pattern(const std::string& pattern, bool literal);
  ~Pattern();
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;

  // Every [start, end) byte range that matches, left to right, non-overlapping.
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& text) const;

  // Every match replaced by `with`; throws std::length_error as soon as the result would pass
  // `max_bytes`.
  std::string replace_all(const std::string& text, const std::string& with, size_t max_bytes = SIZE_MAX) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits `text` at the matches of `pattern` (or, inverted, at what does not match); empty
// pieces are dropped.
std::vector<std::string> split_text(const std::string& text, const Pattern& pattern, SplitBehavior behavior,
                                    bool invert = false);

}  // namespace sq::tok
