#pragma once
// The one exception type core throws for bad input and runtime failures. The message always
// names the file (when there is one) and the problem, so front ends print it as is.
#include <stdexcept>
#include <string>

namespace sq {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  Error(const std::string& file, const std::string& problem) : std::runtime_error(file + ": " + problem) {}
};

// Raised when a long call is cancelled through its CancelToken.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace sq
