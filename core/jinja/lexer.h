#pragma once
// Jinja source to tokens, with the whitespace rules transformers renders chat templates under:
// trim_blocks and lstrip_blocks on, `-` strips on either side of a tag, `+` keeps, and one
// trailing newline of the template is dropped. Plain C++.
#include <string>
#include <vector>

namespace sq::jinja {

enum class Tok {
  Text,        // template text between tags
  ExprBegin,   // {{
  ExprEnd,     // }}
  StmtBegin,   // {%
  StmtEnd,     // %}
  Name,        // identifiers and keywords
  String,      // a string literal, unescaped
  Int,
  Float,
  Op,          // operators and punctuation
  End          // end of the template
};

struct Token {
  Tok kind;
  std::string text;
  int line;
};

// Throws JinjaError on an unterminated tag, comment or string.
std::vector<Token> lex(const std::string& source);

}  // namespace sq::jinja
