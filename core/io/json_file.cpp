#include "core/io/json_file.h"

#include <fstream>

#include "core/error.h"

namespace sq {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, std::string("malformed JSON: ") + e.what());
  }
}

nlohmann::json read_json_file_or_null(const std::string& path) {
  std::ifstream in(path);
  const nlohmann::json j = in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
  return j.is_discarded() ? nlohmann::json() : j;
}

}  // namespace sq
