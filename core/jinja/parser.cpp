#include "core/jinja/parser.h"

#include <set>

#include "core/jinja/builtins.h"
#include "core/jinja/jinja_error.h"

namespace sq::jinja {
namespace {

ExprPtr make(ExprKind kind, int line, std::string name = {}) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  e->name = std::move(name);
  return e;
}

ExprPtr make(ExprKind kind, int line, std::string name, ExprPtr a, ExprPtr b = nullptr) {
  auto e = make(kind, line, std::move(name));
  e->args.push_back(std::move(a));
  if (b) e->args.push_back(std::move(b));
  return e;
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  Body parse_template() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(pos_++, t_.size() - 1)]; }
  bool at(Tok kind, const char* text = nullptr, size_t ahead = 0) const {
    const Token& k = peek(ahead);
    return k.kind == kind && (!text || k.text == text);
  }
  bool at_op(const char* op) const { return at(Tok::Op, op); }
  bool at_name(const char* name) const { return at(Tok::Name, name); }
  bool accept_op(const char* op) {
    if (!at_op(op)) return false;
    ++pos_;
    return true;
  }
  bool accept_name(const char* name) {
    if (!at_name(name)) return false;
    ++pos_;
    return true;
  }
  [[noreturn]] void fail(const std::string& what) const { throw JinjaError(peek().line, what); }
  static std::string describe(const Token& k) {
    switch (k.kind) {
      case Tok::End: return "the end of the template";
      case Tok::ExprEnd: return "'}}'";
      case Tok::StmtEnd: return "'%}'";
      case Tok::Text: return "template text";
      case Tok::String: return "a string";
      default: return "'" + k.text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(std::string("expected '") + op + "', found " + describe(peek()));
  }
  std::string expect_name() {
    if (!at(Tok::Name)) fail("expected a name, found " + describe(peek()));
    return next().text;
  }
  void expect_stmt_end() {
    if (!at(Tok::StmtEnd)) fail("expected '%}', found " + describe(peek()));
    ++pos_;
  }

  // Statements until one of `ends` opens a tag; `end` receives that tag's name ("" at the end
  // of the template, which is an error when something was expected).
  Body parse_body(const std::set<std::string>& ends, std::string& end) {
    Body body;
    while (true) {
      const Token& k = peek();
      if (k.kind == Tok::End) {
        for (const std::string& e : ends)
          if (e.compare(0, 3, "end") == 0) fail("the template ends before {% " + e + " %}");
        end.clear();
        return body;
      }
      if (k.kind == Tok::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Text;
        s->line = k.line;
        s->text = k.text;
        body.push_back(std::move(s));
        ++pos_;
      } else if (k.kind == Tok::ExprBegin) {
        ++pos_;
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->line = k.line;
        s->value = parse_tuple_or_expr();
        if (!at(Tok::ExprEnd)) fail("expected '}}', found " + describe(peek()));
        ++pos_;
        body.push_back(std::move(s));
      } else if (k.kind == Tok::StmtBegin) {
        if (at(Tok::Name, nullptr, 1) && ends.count(peek(1).text)) {
          end = peek(1).text;
          pos_ += 2;
          return body;
        }
        ++pos_;
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(k));
      }
    }
  }

  StmtPtr parse_statement() {
    const int line = peek().line;
    if (!at(Tok::Name)) fail("expected a statement name after '{%'");
    const std::string tag = next().text;
    auto s = std::make_unique<Stmt>();
    s->line = line;
    if (tag == "if") {
      s->kind = StmtKind::If;
      ExprPtr cond = parse_expression();
      expect_stmt_end();
      while (true) {
        std::string end;
        Body body = parse_body({"elif", "else", "endif"}, end);
        s->branches.emplace_back(std::move(cond), std::move(body));
        if (end == "endif") break;
        if (end == "elif") {
          cond = parse_expression();
          expect_stmt_end();
        } else {
          expect_stmt_end();
          Body rest = parse_body({"endif"}, end);
          s->branches.emplace_back(nullptr, std::move(rest));
          break;
        }
      }
      expect_stmt_end();
    } else if (tag == "for") {
      s->kind = StmtKind::For;
      s->targets = parse_targets();
      if (!accept_name("in")) fail("expected 'in' in a for loop");
      s->value = parse_tuple_or_expr(false);
      if (accept_name("if")) s->condition = parse_expression();
      if (at_name("recursive")) throw JinjaError(line, "a recursive for loop", true);
      expect_stmt_end();
      std::string end;
      s->body = parse_body({"else", "endfor"}, end);
      if (end == "else") {
        expect_stmt_end();
        s->else_body = parse_body({"endfor"}, end);
      }
      expect_stmt_end();
    } else if (tag == "set") {
      const std::string first = expect_name();
      if (accept_op(".")) {
        s->kind = StmtKind::Set;
        auto object = make(ExprKind::Name, line, first);
        s->target_object = std::move(object);
        s->targets = {expect_name()};
        expect_op("=");
        s->value = parse_tuple_or_expr();
      } else {
        s->targets = {first};
        while (accept_op(",")) s->targets.push_back(expect_name());
        if (accept_op("=")) {
          s->kind = StmtKind::Set;
          s->value = parse_tuple_or_expr();
        } else {
          if (s->targets.size() != 1) fail("expected '=' after the names of a set");
          if (at_op("|")) throw JinjaError(line, "a filtered set block", true);
          s->kind = StmtKind::SetBlock;
          expect_stmt_end();
          std::string end;
          s->body = parse_body({"endset"}, end);
        }
      }
      expect_stmt_end();
    } else if (tag == "macro") {
      s->kind = StmtKind::Macro;
      s->targets = {expect_name()};
      expect_op("(");
      while (!accept_op(")")) {
        std::string param = expect_name();
        ExprPtr def;
        if (accept_op("=")) def = parse_expression();
        s->params.emplace_back(std::move(param), std::move(def));
        if (!at_op(")")) expect_op(",");
      }
      expect_stmt_end();
      std::string end;
      s->body = parse_body({"endmacro"}, end);
      expect_stmt_end();
    } else if (tag == "break" || tag == "continue") {
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      expect_stmt_end();
    } else if (tag == "generation") {
      // transformers marks the assistant's tokens with it and renders the body unchanged.
      s->kind = StmtKind::Block;
      expect_stmt_end();
      std::string end;
      s->body = parse_body({"endgeneration"}, end);
      expect_stmt_end();
    } else {
      throw JinjaError(line, "the '" + tag + "' statement", true);
    }
    return s;
  }

  std::vector<std::string> parse_targets() {
    const bool paren = accept_op("(");
    std::vector<std::string> names{expect_name()};
    while (accept_op(",")) names.push_back(expect_name());
    if (paren) expect_op(")");
    return names;
  }

  // An expression, or a tuple of them when commas follow (as in {{ a, b }} or `for x in a, b`).
  ExprPtr parse_tuple_or_expr(bool with_cond = true) {
    const int line = peek().line;
    ExprPtr first = parse_expression(with_cond);
    if (!at_op(",")) return first;
    auto tuple = make(ExprKind::Tuple, line);
    tuple->args.push_back(std::move(first));
    while (accept_op(",")) {
      if (at(Tok::ExprEnd) || at(Tok::StmtEnd) || at_name("if")) break;
      tuple->args.push_back(parse_expression(with_cond));
    }
    return tuple;
  }

  ExprPtr parse_expression(bool with_cond = true) {
    ExprPtr e = parse_or();
    while (with_cond && at_name("if")) {
      const int line = next().line;
      ExprPtr cond = parse_or();
      ExprPtr otherwise;
      if (accept_name("else")) otherwise = parse_expression();
      auto c = make(ExprKind::Cond, line);
      c->args.push_back(std::move(e));
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(otherwise));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (at_name("or")) {
      const int line = next().line;
      e = make(ExprKind::Binary, line, "or", std::move(e), parse_and());
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (at_name("and")) {
      const int line = next().line;
      e = make(ExprKind::Binary, line, "and", std::move(e), parse_not());
    }
    return e;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      const int line = next().line;
      return make(ExprKind::Unary, line, "not", parse_not());
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr e = parse_arithmetic();
    while (true) {
      const int line = peek().line;
      std::string op;
      if (at(Tok::Op) && (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
                          peek().text == "<=" || peek().text == ">="))
        op = next().text;
      else if (accept_name("in"))
        op = "in";
      else if (at_name("not") && at(Tok::Name, "in", 1))
        pos_ += 2, op = "not in";
      else
        return e;
      e = make(ExprKind::Binary, line, op, std::move(e), parse_arithmetic());
    }
  }

  // The arithmetic levels, loosest first, each left-associative: + -, then ~, then * / // %,
  // then **, as Jinja orders them.
  ExprPtr parse_arithmetic(size_t level = 0) {
    static const std::vector<std::set<std::string>> levels = {{"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
    if (level == levels.size()) return parse_unary();
    ExprPtr e = parse_arithmetic(level + 1);
    while (at(Tok::Op) && levels[level].count(peek().text)) {
      const Token& k = next();
      e = make(ExprKind::Binary, k.line, k.text, std::move(e), parse_arithmetic(level + 1));
    }
    return e;
  }

  ExprPtr parse_unary() {
    if (at_op("-") || at_op("+")) {
      const Token& k = next();
      return parse_filters(make(ExprKind::Unary, k.line, k.text, parse_unary_no_filter()));
    }
    return parse_filters(parse_postfix(parse_primary()));
  }

  ExprPtr parse_unary_no_filter() {
    if (at_op("-") || at_op("+")) {
      const Token& k = next();
      return make(ExprKind::Unary, k.line, k.text, parse_unary_no_filter());
    }
    return parse_postfix(parse_primary());
  }

  ExprPtr parse_primary() {
    const Token& k = peek();
    const int line = k.line;
    if (k.kind == Tok::Name) {
      ++pos_;
      if (k.text == "true" || k.text == "True") return literal(Value(true), line);
      if (k.text == "false" || k.text == "False") return literal(Value(false), line);
      if (k.text == "none" || k.text == "None") return literal(Value::none(), line);
      return make(ExprKind::Name, line, k.text);
    }
    if (k.kind == Tok::String) {
      std::string s;
      while (at(Tok::String)) s += next().text;  // adjacent literals join, as in Python
      return literal(Value(s), line);
    }
    if (k.kind == Tok::Int) {
      ++pos_;
      try {
        return literal(Value(int64_t(std::stoll(k.text))), line);
      } catch (const std::exception&) {
        fail("the integer " + k.text.substr(0, 40) + " is too large");
      }
    }
    if (k.kind == Tok::Float) {
      ++pos_;
      return literal(Value(std::stod(k.text)), line);
    }
    if (accept_op("(")) {
      if (accept_op(")")) return make(ExprKind::Tuple, line);
      ExprPtr e = parse_expression();
      if (at_op(",")) {
        auto tuple = make(ExprKind::Tuple, line);
        tuple->args.push_back(std::move(e));
        while (accept_op(",")) {
          if (at_op(")")) break;
          tuple->args.push_back(parse_expression());
        }
        e = std::move(tuple);
      }
      expect_op(")");
      return e;
    }
    if (accept_op("[")) {
      auto list = make(ExprKind::List, line);
      while (!accept_op("]")) {
        list->args.push_back(parse_expression());
        if (!at_op("]")) expect_op(",");
      }
      return list;
    }
    if (accept_op("{")) {
      auto dict = make(ExprKind::Dict, line);
      while (!accept_op("}")) {
        dict->args.push_back(parse_expression());
        expect_op(":");
        dict->args.push_back(parse_expression());
        if (!at_op("}")) expect_op(",");
      }
      return dict;
    }
    fail("expected a value, found " + describe(k));
  }

  static ExprPtr literal(Value v, int line) {
    auto e = make(ExprKind::Literal, line);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (accept_op(".")) {
        if (at(Tok::Int)) {
          auto index = literal(Value(int64_t(std::stoll(next().text))), line);
          e = make(ExprKind::Item, line, "", std::move(e), std::move(index));
        } else {
          auto a = make(ExprKind::Attr, line, expect_name());
          a->args.push_back(std::move(e));
          e = std::move(a);
        }
      } else if (accept_op("[")) {
        e = parse_subscript(std::move(e), line);
      } else if (at_op("(")) {
        e = parse_call(std::move(e), line);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object, int line) {
    ExprPtr parts[3];
    int part = 0;
    bool slice = false;
    while (true) {
      if (at_op(":")) {
        ++pos_;
        slice = true;
        if (++part > 2) fail("a slice has at most three parts");
        continue;
      }
      if (accept_op("]")) break;
      if (parts[part]) fail("expected ']' or ':' in a subscript");
      parts[part] = parse_expression();
    }
    if (!slice) {
      if (!parts[0]) fail("an empty subscript []");
      return make(ExprKind::Item, line, "", std::move(object), std::move(parts[0]));
    }
    auto s = make(ExprKind::Slice, line);
    s->args.push_back(std::move(object));
    for (auto& p : parts) s->args.push_back(std::move(p));
    return s;
  }

  ExprPtr parse_call(ExprPtr callee, int line) {
    auto c = make(ExprKind::Call, line);
    c->args.push_back(std::move(callee));
    parse_arguments(*c);
    return c;
  }

  // (a, b, key=value) into e's args (after those it holds) and kwargs.
  void parse_arguments(Expr& e) {
    expect_op("(");
    while (!accept_op(")")) {
      if (at(Tok::Name) && at(Tok::Op, "=", 1)) {
        std::string key = next().text;
        ++pos_;
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (at_op("*") || at_op("**")) throw JinjaError(peek().line, "argument unpacking with * or **", true);
        e.args.push_back(parse_expression());
      }
      if (!at_op(")")) expect_op(",");
    }
  }

  ExprPtr parse_filters(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (accept_op("|")) {
        const std::string name = expect_name();
        if (!has_filter(name)) throw JinjaError(line, "the filter '" + name + "'", true);
        auto f = make(ExprKind::Filter, line, name);
        f->args.push_back(std::move(e));
        if (at_op("(")) parse_arguments(*f);
        e = std::move(f);
      } else if (accept_name("is")) {
        const bool negated = accept_name("not");
        std::string name = expect_name();
        if (name == "none" || name == "None") name = "none";
        if (!has_test(name)) throw JinjaError(line, "the test '" + name + "'", true);
        auto t = make(ExprKind::Test, line, name);
        t->negated = negated;
        t->args.push_back(std::move(e));
        if (at_op("(")) {
          parse_arguments(*t);
        } else if (starts_test_argument()) {
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else if (at_op("(")) {
        e = parse_call(std::move(e), line);
      } else {
        return e;
      }
    }
  }

  // `x is divisibleby 3`, `x is sameas false`: a test takes one bare argument when a value follows.
  bool starts_test_argument() const {
    const Token& k = peek();
    if (k.kind == Tok::String || k.kind == Tok::Int || k.kind == Tok::Float) return true;
    if (k.kind == Tok::Op) return k.text == "[" || k.text == "{";
    if (k.kind != Tok::Name) return false;
    static const std::set<std::string> stop = {"and", "or", "else", "if", "not", "in", "is", "recursive"};
    return !stop.count(k.text);
  }

  const std::vector<Token>& t_;
  size_t pos_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace sq::jinja
