#pragma once
// A Jinja template as Hugging Face chat templates use it: parsed once, rendered against a
// context of variables. Globals are those transformers gives a chat template (range,
// namespace, dict, raise_exception); the caller supplies the rest (strftime_now among them).
// Plain C++.
#include <memory>
#include <string>

#include "core/jinja/jinja_error.h"
#include "core/jinja/value.h"

namespace sq::jinja {

struct Stmt;

class Template {
 public:
  // Throws JinjaError for a syntax error, or for a statement, filter or test it lacks
  // (JinjaError::unsupported()), with the line.
  explicit Template(const std::string& source);
  // Throws JinjaError for a failure while rendering, including the template's own
  // raise_exception(...), whose message is kept.
  std::string render(const Dict& context) const;

 private:
  std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;
};

}  // namespace sq::jinja
