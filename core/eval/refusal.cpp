#include "core/eval/refusal.h"

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/io/json_file.h"
#include "core/run/resources.h"

namespace sq {
namespace {

bool word_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

}  // namespace

std::string normalize_for_matching(const std::string& text) {
  static const std::pair<const char*, char> kQuotes[] = {
      {"\xE2\x80\x98", '\''}, {"\xE2\x80\x99", '\''}, {"\xE2\x80\x9B", '\''}, {"\xCA\xBC", '\''},
      {"\xE2\x80\x9C", '"'},  {"\xE2\x80\x9D", '"'},  {"\xE2\x80\x9F", '"'}};
  std::string out;
  bool space = false;
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const auto& [from, to] : kQuotes) {
      const size_t n = std::char_traits<char>::length(from);
      if (text.compare(i, n, from) == 0) {
        if (space && !out.empty()) out += ' ';
        space = false;
        out += to;
        i += n;
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    const unsigned char c = static_cast<unsigned char>(text[i++]);
    if (std::isspace(c) || (c == 0xC2 && i < text.size() && static_cast<unsigned char>(text[i]) == 0xA0 && ++i)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

RefusalMatcher::RefusalMatcher(std::vector<std::string> phrases) : phrases_(std::move(phrases)) {
  if (phrases_.empty()) throw Error("the refusal phrase list is empty");
  for (const std::string& p : phrases_) {
    normalized_.push_back(normalize_for_matching(p));
    if (normalized_.back().empty()) throw Error("the refusal phrase list holds an empty phrase");
  }
}

RefusalMatcher RefusalMatcher::from_list(const std::string& path, const std::string& name) {
  if (!std::ifstream(path)) throw Error(path, "cannot open refusal lists");
  const nlohmann::json j = read_json_file(path);
  std::string names;
  for (const auto& list : j.value("lists", nlohmann::json::array())) {
    if (list.value("name", "") == name) return RefusalMatcher(list.at("strings").get<std::vector<std::string>>());
    names += (names.empty() ? "" : ", ") + list.value("name", std::string("?"));
  }
  throw Error(path, "no refusal list named '" + name + "' (have: " + names + ")");
}

RefusalMatcher RefusalMatcher::shipped_default() { return from_list(data_file("refusal_prefixes.json"), kDefaultRefusalList); }

RefusalMatcher RefusalMatcher::from_choice(const std::string& choice, const std::string& default_json) {
  std::ifstream in(choice);
  if (!in) return from_list(default_json, choice);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (!text.empty() && text[0] == '[') {
    try {
      return RefusalMatcher(nlohmann::json::parse(text).get<std::vector<std::string>>());
    } catch (const nlohmann::json::exception&) {
      throw Error(choice, "a refusal list file starting with '[' must be a JSON array of strings");
    }
  }
  std::vector<std::string> phrases;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (!normalize_for_matching(line).empty()) phrases.push_back(line);
  if (phrases.empty()) throw Error(choice, "no refusal phrases in this file");
  return RefusalMatcher(phrases);
}

std::optional<std::string> RefusalMatcher::match(const std::string& completion) const {
  const std::string text = normalize_for_matching(completion);
  for (size_t k = 0; k < normalized_.size(); ++k) {
    const std::string& p = normalized_[k];
    for (size_t at = text.find(p); at != std::string::npos; at = text.find(p, at + 1)) {
      // Whole words only where the phrase itself begins or ends with a word character.
      const bool left = at == 0 || !word_char(static_cast<unsigned char>(p.front())) ||
                        !word_char(static_cast<unsigned char>(text[at - 1]));
      const size_t end = at + p.size();
      const bool right = end == text.size() || !word_char(static_cast<unsigned char>(p.back())) ||
                         !word_char(static_cast<unsigned char>(text[end]));
      if (left && right) return phrases_[k];
    }
  }
  return std::nullopt;
}

}  // namespace sq
