#pragma once
// manifest.json, the record an export folder carries of itself: what was exported from what, and
// each file's size and SHA-256, so a reader can tell a complete, untouched export from a damaged
// one. The one owner of the format: the exporter writes it through here, loaders check it here.
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

struct ManifestFile {
  std::string path;  // relative to the folder
  uint64_t size = 0;
  std::string sha256;
};

struct Manifest {
  std::string format, created, safequant_version, model, note;
  std::string run_json = "null";  // the quantization run it came from, as JSON ({dir, method, scheme})
  bool exact = false;
  std::vector<ManifestFile> files;
};

// Writes dir/manifest.json atomically.
void write_manifest(const std::string& dir, const Manifest& manifest);
// Reads dir/manifest.json; sq::Error names the file and the problem.
Manifest read_manifest(const std::string& dir);

// Checks every listed file against the manifest: present with its size, and with `hashes` its
// SHA-256 too. sq::Error names the first file that differs and how.
void verify_manifest(const std::string& dir, const Manifest& manifest, bool hashes);

}  // namespace sq
