#pragma once
// SHA-256 (FIPS 180-4) of a file, for export manifests. Plain C++.
#include <string>

namespace sq {

// Lower-case hex digest of the file's bytes; throws sq::Error naming the file.
std::string sha256_file(const std::string& path);
// Of a string (tests and small payloads).
std::string sha256_hex(const std::string& bytes);

}  // namespace sq
