#pragma once
// Refusal detection by phrase lists, as jailbreak evaluations do it: a completion is a refusal
// when it contains a listed phrase. Matching is case-insensitive after curly quotes become
// straight ones and whitespace runs become one space, and a phrase must stand as whole words
// (so "As an" does not fire on "As anyone").
#include <optional>
#include <string>
#include <vector>

namespace sq {

// The list harmful scores are computed with unless the user picks another (GCG's transfer list).
inline constexpr const char* kDefaultRefusalList = "gcg_eval_transfer";

class RefusalMatcher {
 public:
  explicit RefusalMatcher(std::vector<std::string> phrases);
  // Reads one of the lists in refusal_prefixes.json by name ("gcg_eval_transfer", …).
  static RefusalMatcher from_list(const std::string& json_path, const std::string& list_name);
  // A shipped list name, or a file: JSON array of strings, or one phrase per line.
  static RefusalMatcher from_choice(const std::string& choice, const std::string& default_json_path);
  // The shipped default list (kDefaultRefusalList in the shipped refusal_prefixes.json).
  static RefusalMatcher shipped_default();

  // The first listed phrase found in the completion, if any.
  std::optional<std::string> match(const std::string& completion) const;
  const std::vector<std::string>& phrases() const { return phrases_; }

 private:
  std::vector<std::string> phrases_, normalized_;
};

// Lower case (ASCII), curly quotes straightened, whitespace runs folded to one space, trimmed.
std::string normalize_for_matching(const std::string& text);

}  // namespace sq
