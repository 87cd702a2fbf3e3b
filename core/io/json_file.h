#pragma once
// JSON files read whole. Plain C++.
#include <nlohmann/json.hpp>
#include <string>

namespace sq {

// Throws sq::Error naming the file: "cannot open" or "malformed JSON: …".
nlohmann::json read_json_file(const std::string& path);
// A null value when the file is missing or malformed, for views that show what exists.
nlohmann::json read_json_file_or_null(const std::string& path);

}  // namespace sq
