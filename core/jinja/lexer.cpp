#include "core/jinja/lexer.h"

#include <cctype>
#include <cstring>

#include "core/jinja/jinja_error.h"

namespace sq::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {
    // keep_trailing_newline is off: one newline at the very end is not part of the output.
    if (!src_.empty() && src_.back() == '\n') {
      src_.pop_back();
      if (!src_.empty() && src_.back() == '\r') src_.pop_back();
    }
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool strip_next = false, trim_next = false;
    while (pos <= src_.size()) {
      const size_t open = next_tag(pos);
      std::string text = src_.substr(pos, open - pos);
      if (strip_next) {
        size_t b = 0;
        while (b < text.size() && is_space(text[b])) ++b;
        text.erase(0, b);
      } else if (trim_next) {
        // trim_blocks: the first newline after a block tag goes.
        if (text.compare(0, 2, "\r\n") == 0) text.erase(0, 2);
        else if (!text.empty() && text[0] == '\n') text.erase(0, 1);
      }
      if (open == src_.size()) {
        push_text(text, pos);
        break;
      }
      const char kind = src_[open + 1];  // '{', '%' or '#'
      const char mod = open + 2 < src_.size() ? src_[open + 2] : '\0';
      if (mod == '-') {
        size_t e = text.size();
        while (e > 0 && is_space(text[e - 1])) --e;
        text.resize(e);
      } else if (kind != '{' && mod != '+') {
        // lstrip_blocks: spaces and tabs from the start of the line up to a block tag.
        size_t j = open;
        while (j > pos && (src_[j - 1] == ' ' || src_[j - 1] == '\t')) --j;
        if (j == 0 || src_[j - 1] == '\n') text.resize(text.size() - (open - j));
      }
      push_text(text, pos);
      line_ = line_at(open);
      size_t body = open + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      if (kind == '#') {
        const size_t close = src_.find("#}", body);
        if (close == std::string::npos) throw JinjaError(line_, "a comment {# is not closed");
        strip_next = close > body && src_[close - 1] == '-';
        trim_next = !strip_next && !(close > body && src_[close - 1] == '+');
        pos = close + 2;
        continue;
      }
      const bool expr = kind == '{';
      out_.push_back({expr ? Tok::ExprBegin : Tok::StmtBegin, "", line_});
      char close_mod = '\0';
      pos = lex_tag(body, expr, close_mod);
      out_.push_back({expr ? Tok::ExprEnd : Tok::StmtEnd, "", line_});
      strip_next = close_mod == '-';
      trim_next = !expr && close_mod != '-' && close_mod != '+';
    }
    out_.push_back({Tok::End, "", line_at(src_.size())});
    return std::move(out_);
  }

 private:
  size_t next_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i)
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return src_.size();
  }

  int line_at(size_t offset) {
    for (; counted_ < offset && counted_ < src_.size(); ++counted_)
      if (src_[counted_] == '\n') ++counted_line_;
    return counted_line_;
  }

  void push_text(const std::string& text, size_t at) {
    if (!text.empty()) out_.push_back({Tok::Text, text, line_at(at)});
  }

  // Tokens of one {{ }} or {% %} tag from `pos`; returns the offset after its closing marker.
  size_t lex_tag(size_t pos, bool expr, char& close_mod) {
    const char closer = expr ? '}' : '%';
    int braces = 0;
    while (true) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      if (pos >= src_.size()) throw JinjaError(line_, std::string("a tag ") + (expr ? "{{" : "{%") + " is not closed");
      line_ = line_at(pos);
      const char c = src_[pos];
      const char n = pos + 1 < src_.size() ? src_[pos + 1] : '\0';
      const char n2 = pos + 2 < src_.size() ? src_[pos + 2] : '\0';
      if (braces == 0) {
        if (c == closer && n == '}') {
          close_mod = '\0';
          return pos + 2;
        }
        if ((c == '-' || c == '+') && n == closer && n2 == '}') {
          close_mod = c;
          return pos + 3;
        }
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = pos;
        while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
        out_.push_back({Tok::Name, src_.substr(pos, e - pos), line_});
        pos = e;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t e = pos;
        while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
        bool is_float = false;
        if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
          is_float = true;
          ++e;
          while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) ++e;
        }
        std::string digits;
        for (size_t i = pos; i < e; ++i)
          if (src_[i] != '_') digits += src_[i];
        out_.push_back({is_float ? Tok::Float : Tok::Int, digits, line_});
        pos = e;
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        static const char* two[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (const char* t : two)
          if (c == t[0] && n == t[1]) op = t;
        if (op.size() == 1 && !std::strchr("+-*/%~<>=()[]{}.,:|", c))
          throw JinjaError(line_, std::string("unexpected character '") + c + "' in a tag");
        if (op == "{") ++braces;
        if (op == "}") --braces;
        out_.push_back({Tok::Op, op, line_});
        pos += op.size();
      }
    }
  }

  size_t lex_string(size_t pos) {
    const char quote = src_[pos++];
    std::string s;
    while (true) {
      if (pos >= src_.size()) throw JinjaError(line_, "a string literal is not closed");
      const char c = src_[pos++];
      if (c == quote) break;
      if (c != '\\' || pos >= src_.size()) {
        s += c;
        continue;
      }
      const char e = src_[pos++];
      switch (e) {
        case 'n': s += '\n'; break;
        case 't': s += '\t'; break;
        case 'r': s += '\r'; break;
        case '0': s += '\0'; break;
        case '\\': s += '\\'; break;
        case '\'': s += '\''; break;
        case '"': s += '"'; break;
        case '\n': break;  // a line continuation
        default: s += '\\', s += e;  // Python keeps unknown escapes as written
      }
    }
    out_.push_back({Tok::String, s, line_});
    return pos;
  }

  std::string src_;
  std::vector<Token> out_;
  int line_ = 1;
  size_t counted_ = 0;
  int counted_line_ = 1;
};

}  // namespace

std::vector<Token> lex(const std::string& source) { return Lexer(source).run(); }

}  // namespace sq::jinja
