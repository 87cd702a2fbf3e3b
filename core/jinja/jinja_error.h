#pragma once
// What goes wrong in a template, with the line it goes wrong on. `unsupported` marks a feature
// the renderer lacks (as opposed to a template error), so callers can say which it was.
#include <stdexcept>
#include <string>

namespace sq::jinja {

class JinjaError : public std::runtime_error {
 public:
  JinjaError(int line, const std::string& message, bool unsupported = false)
      : std::runtime_error(line > 0 ? "line " + std::to_string(line) + ": " + message : message),
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
