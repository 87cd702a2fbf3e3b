#pragma once
// What goes wrong in a template, with the line it goes wrong on. `unsupported` marks a feature
// the renderer lacks (as opposed to a template error), so callers can say which it was. An
// sq::Error like every other refusal (bounded, caught where core's errors are), though callers
// add the file the template came from.
#include <string>

#include "core/error.h"

namespace sq::jinja {

class JinjaError : public Error {
 public:
  JinjaError(int line, const std::string& message, bool unsupported = false)
      : Error(line > 0 ? "line " + std::to_string(line) + ": " + message : message),
        message_(message), line_(line), unsupported_(unsupported) {}
  int line() const { return line_; }
  const std::string& message() const { return message_; }
  bool unsupported() const { return unsupported_; }

 private:
  std::string message_;
  int line_;
  bool unsupported_;
};

}  // namespace sq::jinja
