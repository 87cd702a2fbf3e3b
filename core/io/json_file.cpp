#include "core/io/json_file.h"

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/io/mapped_file.h"

namespace sq {
namespace {

// The deepest nesting of arrays and objects in `text`, brackets inside strings not counted; stops
// counting past the bound.
int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxJsonDepth) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string read_text(const std::string& path, bool& ok) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  ok = bool(in);
  std::stringstream ss;
  if (ok) ss << in.rdbuf();
  return ss.str();
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  if (nesting_depth(text) > kMaxJsonDepth)
    throw Error(where, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  std::vector<std::set<std::string>> keys;  // per open object
  std::string twice;
  const nlohmann::json::parser_callback_t unique = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) keys.emplace_back();
    if (event == E::object_end) keys.pop_back();
    if (event == E::key && !keys.back().insert(parsed.get<std::string>()).second && twice.empty())
      twice = parsed.get<std::string>();
    return true;
  };
  try {
    nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), unique);
    if (!twice.empty()) throw Error(where, "the key \"" + twice.substr(0, 80) + "\" appears twice in one object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message names the byte and the last token read, never the whole value.
    throw Error(where, "not valid JSON: " + json_error_text(e).substr(0, 300));
  }
}

std::string read_text_file(const std::string& path) {
  bool ok = false;
  std::string text = read_text(path, ok);
  if (!ok) throw Error(path, "cannot open");
  return text;
}

nlohmann::json read_json_file(const std::string& path) { return parse_json(read_text_file(path), path); }

nlohmann::json read_json_file_or_null(const std::string& path) {
  bool ok = false;
  std::string text;
  try {
    text = read_text(path, ok);
  } catch (const Error&) {
    return nlohmann::json();
  }
  if (!ok || nesting_depth(text) > kMaxJsonDepth) return nlohmann::json();
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string json_error_text(const nlohmann::json::exception& e) {
  const std::string what = e.what();
  const size_t tag = what.find("] ");
  return what.rfind("[json.exception", 0) == 0 && tag != std::string::npos ? what.substr(tag + 2) : what;
}

std::string json_excerpt(const nlohmann::json& value, size_t max) {
  std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

void throw_json_field_error(const std::string& path, const char* key, const std::string& problem) {
  throw Error(path, problem.empty() ? std::string("no \"") + key + "\"" : std::string("\"") + key + "\": " + problem);
}

}  // namespace sq
