#pragma once
// JSON from files and other untrusted text, read whole. Plain C++.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sq {

// Deeper nesting is refused: walking or printing such a value recurses once per level, and a
// file nested 100,000 levels deep overflowed the stack.
constexpr int kMaxJsonDepth = 256;

// Parses untrusted JSON text; sq::Error names `where`: "not valid JSON: ...", the nesting bound,
// or a key given twice in one object (a parser keeps only the last: a second tensor, vocabulary
// entry or setting of the same name would silently win).
nlohmann::json parse_json(std::string_view text, const std::string& where);

// A regular file's bytes; sq::Error names the file when it is not one or cannot be opened.
std::string read_text_file(const std::string& path);

// Throws sq::Error naming the file: "cannot open", "not valid JSON: …", or the nesting bound.
nlohmann::json read_json_file(const std::string& path);
// A null value when the file is missing, malformed or nested too deep, for views that show what
// exists.
nlohmann::json read_json_file_or_null(const std::string& path);

// nlohmann's message without its "[json.exception.type_error.302] " tag, for users.
std::string json_error_text(const nlohmann::json::exception& e);

// A value for a message: its JSON text, cut to `max` characters; untrusted values are never
// printed whole.
std::string json_excerpt(const nlohmann::json& value, size_t max = 80);

// j[key] as T, for readers of the project's own formats; sq::Error names the file and the key when
// it is missing or of another type.
template <class T>
T json_field(const nlohmann::json& j, const char* key, const std::string& path);

// The same, with `fallback` when the key is absent or null (sections older files lack).
template <class T>
T json_field_or(const nlohmann::json& j, const char* key, const std::string& path, T fallback) {
  return j.is_object() && j.contains(key) && !j.at(key).is_null() ? json_field<T>(j, key, path) : fallback;
}

// Thrown through json_field: not a template, so error.h stays out of this header's users' way.
[[noreturn]] void throw_json_field_error(const std::string& path, const char* key, const std::string& problem);

template <class T>
T json_field(const nlohmann::json& j, const char* key, const std::string& path) {
  if (!j.is_object() || !j.contains(key)) throw_json_field_error(path, key, "");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw_json_field_error(path, key, json_error_text(e));
  }
}

}  // namespace sq
