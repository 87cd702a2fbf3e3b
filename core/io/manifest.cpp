#include "core/io/manifest.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/io/sha256.h"

namespace sq {
namespace fs = std::filesystem;
using nlohmann::json;

void write_manifest(const std::string& dir, const Manifest& m) {
  json files = json::array();
  for (const ManifestFile& f : m.files) files.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  const json j = {{"format", m.format},
                  {"created", m.created},
                  {"safequant_version", m.safequant_version},
                  {"model", m.model},
                  {"run", json::parse(m.run_json)},
                  {"exact", m.exact},
                  {"note", m.note},
                  {"files", files}};
  write_atomically((fs::path(dir) / "manifest.json").string(), [&](std::ostream& out) { out << j.dump(2) << "\n"; });
}

Manifest read_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / "manifest.json").string();
  const json j = read_json_file(path);
  Manifest m;
  try {
    m.format = j.at("format").get<std::string>();
    m.created = j.value("created", "");
    m.safequant_version = j.value("safequant_version", "");
    m.model = j.value("model", "");
    m.note = j.value("note", "");
    m.exact = j.value("exact", false);
    m.run_json = j.contains("run") ? j["run"].dump() : "null";
    for (const json& f : j.at("files")) {
      ManifestFile mf{f.at("path").get<std::string>(), f.at("size").get<uint64_t>(), f.at("sha256").get<std::string>()};
      const fs::path p(mf.path);
      if (p.is_absolute() || p.lexically_normal().string().rfind("..", 0) == 0)
        throw Error(path, "lists a file outside its folder: " + mf.path.substr(0, 200));
      m.files.push_back(std::move(mf));
    }
  } catch (const json::exception&) {
    throw Error(path, "not a manifest: needs \"format\" and \"files\" with a path, size and sha256 each");
  }
  return m;
}

void verify_manifest(const std::string& dir, const Manifest& m, bool hashes) {
  for (const ManifestFile& f : m.files) {
    const std::string p = (fs::path(dir) / f.path).string();
    std::error_code ec;
    const uint64_t size = fs::file_size(p, ec);
    if (ec) throw Error(p, "listed in manifest.json but missing: the export is incomplete");
    if (size != f.size)
      throw Error(p, std::to_string(size) + " bytes, manifest.json says " + std::to_string(f.size) + ": the export is damaged");
    if (hashes && sha256_file(p) != f.sha256) throw Error(p, "its SHA-256 differs from manifest.json: the export is damaged");
  }
}

}  // namespace sq
