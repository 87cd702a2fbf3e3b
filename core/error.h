#pragma once
// The one exception type core throws for bad input and runtime failures. The message always
// names the file (when there is one) and the problem, so front ends print it as is.
#include <stdexcept>
#include <string>

namespace sq {

// An untrusted value for a message: quoted, and cut to 200 bytes (at a character boundary) with
// its full length said, so that a hostile file never floods a terminal or a log.
inline std::string quote_value(const std::string& value) {
  if (value.size() <= 200) return "'" + value + "'";
  size_t cut = 200;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "'" + value.substr(0, cut) + "...' (" + std::to_string(value.size()) + " bytes)";
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(bounded(message)) {}
  Error(const std::string& file, const std::string& problem) : std::runtime_error(bounded(file + ": " + problem)) {}

 private:
  // The last guard: a message is never longer than 2000 bytes, whatever it quotes.
  static std::string bounded(const std::string& m) {
    if (m.size() <= 2000) return m;
    size_t cut = 2000;
    while (cut > 0 && (static_cast<unsigned char>(m[cut]) & 0xC0) == 0x80) --cut;
    return m.substr(0, cut) + "... (" + std::to_string(m.size() - cut) + " more bytes cut)";
  }
};

// Raised when a long call is cancelled through its CancelToken.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace sq
