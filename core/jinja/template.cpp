#include "core/jinja/template.h"

#include <cmath>
#include <unordered_map>

#include "core/jinja/ast.h"
#include "core/jinja/builtins.h"
#include "core/jinja/lexer.h"
#include "core/jinja/parser.h"

namespace sq::jinja {
namespace {

// Bounds that keep a hostile template from taking the machine: a chat prompt is far below each.
constexpr size_t kMaxOutput = 16u << 20;   // bytes rendered
constexpr int64_t kMaxRange = 1 << 20;     // items of one range()
constexpr int kMaxDepth = 64;              // nested macro calls
constexpr int64_t kMaxSteps = 50'000'000;  // statements and loop iterations

enum class Flow { Normal, Break, Continue };

using Scope = std::unordered_map<std::string, Value>;

class Renderer {
 public:
  explicit Renderer(const Dict& context) {
    scopes_.push_back(std::make_shared<Scope>());
    Scope& root = *scopes_.front();
    root["range"] = Value::function([](const Args& a) { return range(a); });
    root["namespace"] = Value::function([](const Args& a) {
      Dict items;
      if (!a.positional.empty() && a.positional[0].is_mapping()) items = a.positional[0].dict();
      for (const auto& [k, v] : a.keyword) items.emplace_back(k, v);
      return Value::namespace_of(std::move(items));
    });
    root["dict"] = Value::function([](const Args& a) {
      Dict items;
      if (!a.positional.empty() && a.positional[0].is_mapping()) items = a.positional[0].dict();
      for (const auto& [k, v] : a.keyword) items.emplace_back(k, v);
      return Value(std::move(items));
    });
    root["raise_exception"] = Value::function([this](const Args& a) -> Value {
      const std::string message = a.positional.empty() ? std::string() : a.positional[0].to_output();
      throw JinjaError(line_, "the template refused: " + message.substr(0, 200));
    });
    for (const auto& [k, v] : context) root[k] = v;
  }

  std::string run(const Body& body) {
    render(body);
    return std::move(out_);
  }

 private:
  static Value range(const Args& a) {
    std::vector<int64_t> n;
    for (const Value& v : a.positional) {
      if (!v.is(Kind::Int)) throw JinjaError(0, "range() takes integers");
      n.push_back(v.as_int());
    }
    if (n.empty() || n.size() > 3) throw JinjaError(0, "range() takes 1 to 3 integers");
    const int64_t start = n.size() > 1 ? n[0] : 0, stop = n.size() > 1 ? n[1] : n[0], step = n.size() > 2 ? n[2] : 1;
    if (step == 0) throw JinjaError(0, "range() step cannot be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (int64_t(out.size()) >= kMaxRange) throw JinjaError(0, "range() of more than 1048576 items");
      out.emplace_back(i);
    }
    return Value(std::move(out));
  }

  void step(int line) {
    line_ = line;
    if (++steps_ > kMaxSteps) throw JinjaError(line, "the template runs too long (over 50 million steps)");
  }

  void emit(const std::string& s) {
    out_ += s;
    if (out_.size() > kMaxOutput) throw JinjaError(line_, "the template renders more than 16 MB");
  }

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto found = (*it)->find(name);
      if (found != (*it)->end()) return found->second;
    }
    return Value();
  }

  void assign(const std::string& name, Value v) { (*scopes_.back())[name] = std::move(v); }

  Flow render(const Body& body) {
    for (const StmtPtr& s : body) {
      const Flow f = render(*s);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow render(const Stmt& s) {
    step(s.line);
    switch (s.kind) {
      case StmtKind::Text: emit(s.text); break;
      case StmtKind::Output: emit(eval(*s.value).to_output()); break;
      case StmtKind::If:
        for (const auto& [cond, body] : s.branches)
          if (!cond || eval(*cond).truthy()) return render(body);
        break;
      case StmtKind::For: return render_for(s);
      case StmtKind::Set: {
        Value v = eval(*s.value);
        if (s.target_object) {
          Value object = eval(*s.target_object);
          if (!object.is(Kind::Namespace))
            throw JinjaError(s.line, "cannot set an attribute on a " + std::string(object.type_name()) + " (only on namespace())");
          object.set(s.targets[0], std::move(v));
        } else {
          bind(s.targets, v, s.line);
        }
        break;
      }
      case StmtKind::SetBlock: {
        std::string saved;
        saved.swap(out_);
        render(s.body);
        saved.swap(out_);
        assign(s.targets[0], Value(saved));
        break;
      }
      case StmtKind::Macro: assign(s.targets[0], macro(s)); break;
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
      case StmtKind::Block: return render(s.body);
    }
    return Flow::Normal;
  }

  void bind(const std::vector<std::string>& names, const Value& v, int line) {
    if (names.size() == 1) {
      assign(names[0], v);
      return;
    }
    const List items = iterate(v, line);
    if (items.size() != names.size())
      throw JinjaError(line, "cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(names.size()) + " names");
    for (size_t i = 0; i < names.size(); ++i) assign(names[i], items[i]);
  }

  Flow render_for(const Stmt& s) {
    const Value iterable = eval(*s.value);
    if (iterable.is_none()) throw JinjaError(s.line, "cannot loop over none");
    List items = iterate(iterable, s.line);
    if (s.condition) {
      List kept;
      for (const Value& item : items) {
        scopes_.push_back(std::make_shared<Scope>());
        bind(s.targets, item, s.line);
        const bool keep = eval(*s.condition).truthy();
        scopes_.pop_back();
        if (keep) kept.push_back(item);
      }
      items.swap(kept);
    }
    if (items.empty()) {
      render(s.else_body);
      return Flow::Normal;
    }
    const int64_t n = int64_t(items.size());
    for (int64_t i = 0; i < n; ++i) {
      step(s.line);
      scopes_.push_back(std::make_shared<Scope>());
      Dict loop = {{"index", Value(i + 1)},
                   {"index0", Value(i)},
                   {"revindex", Value(n - i)},
                   {"revindex0", Value(n - i - 1)},
                   {"first", Value(i == 0)},
                   {"last", Value(i == n - 1)},
                   {"length", Value(n)},
                   {"depth", Value(int64_t(1))},
                   {"depth0", Value(int64_t(0))}};
      if (i > 0) loop.emplace_back("previtem", items[size_t(i - 1)]);
      if (i + 1 < n) loop.emplace_back("nextitem", items[size_t(i + 1)]);
      loop.emplace_back("cycle", Value::function([i](const Args& a) {
                          if (a.positional.empty()) throw JinjaError(0, "loop.cycle() needs arguments");
                          return a.positional[size_t(i) % a.positional.size()];
                        }));
      assign("loop", Value(std::move(loop)));
      bind(s.targets, items[size_t(i)], s.line);
      const Flow f = render(s.body);
      scopes_.pop_back();
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  Value macro(const Stmt& s) {
    auto root = scopes_.front();
    return Value::function([this, &s, root](const Args& a) {
      if (++depth_ > kMaxDepth) throw JinjaError(s.line, "macros nest more than 64 deep");
      std::vector<std::shared_ptr<Scope>> saved;
      saved.swap(scopes_);
      scopes_ = {root, std::make_shared<Scope>()};
      for (size_t i = 0; i < s.params.size(); ++i) {
        const auto& [name, def] = s.params[i];
        const Value* given = a.get(i, name);
        assign(name, given ? *given : def ? eval(*def) : Value());
      }
      std::string body;
      body.swap(out_);
      try {
        render(s.body);
      } catch (...) {
        body.swap(out_);
        scopes_.swap(saved);
        --depth_;
        throw;
      }
      body.swap(out_);
      scopes_.swap(saved);
      --depth_;
      return Value(body);
    });
  }

  Args eval_args(const Expr& e, size_t first) {
    Args a;
    for (size_t i = first; i < e.args.size(); ++i) a.positional.push_back(eval(*e.args[i]));
    for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v));
    return a;
  }

  Value item(const Value& object, const Value& key, int line) {
    if (object.is_undefined()) throw JinjaError(line, "a subscript of an undefined value");
    if (object.is_mapping()) {
      if (!key.is_string()) return Value();
      const Value* v = object.find(key.str());
      return v ? *v : Value();
    }
    if (object.is(Kind::List) || object.is_string()) {
      if (!key.is(Kind::Int)) throw JinjaError(line, std::string("a ") + object.type_name() + " index must be an integer");
      const int64_t n = length_of(object, line);
      int64_t i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value();
      if (object.is(Kind::List)) return object.list()[size_t(i)];
      return slice_of(object, Value(i), Value(i + 1), Value(), line);
    }
    return Value();
  }

  Value attribute(const Value& object, const std::string& name, int line) {
    if (object.is_undefined()) throw JinjaError(line, "the attribute '" + name + "' of an undefined value");
    if (object.is_mapping()) {
      const Value* v = object.find(name);
      return v ? *v : Value();
    }
    return Value();
  }

  Value call(const Expr& e) {
    const Expr& callee = *e.args[0];
    Args a = eval_args(e, 1);
    if (callee.kind == ExprKind::Attr) {
      const Value object = eval(*callee.args[0]);
      Value result;
      // A dict's own key wins only when it holds a function; otherwise methods, as in Python.
      if (!object.is_undefined() && call_method(object, callee.name, a, e.line, result)) return result;
      const Value f = attribute(object, callee.name, e.line);
      if (f.is(Kind::Function)) return f.fn()(a);
      throw JinjaError(e.line, "the method '" + callee.name + "' of a " + object.type_name(), true);
    }
    const Value f = eval(callee);
    if (!f.is(Kind::Function)) {
      const std::string what = callee.kind == ExprKind::Name ? "'" + callee.name + "'" : "a value";
      if (f.is_undefined()) throw JinjaError(e.line, "the function " + what, true);
      throw JinjaError(e.line, what + " is a " + f.type_name() + ", not a function");
    }
    const int saved = line_;
    line_ = e.line;
    try {
      Value result = f.fn()(a);
      line_ = saved;
      return result;
    } catch (const JinjaError& err) {
      if (err.line() > 0) throw;
      throw JinjaError(e.line, err.message(), err.unsupported());
    }
  }

  static Value arithmetic(const std::string& op, const Value& a, const Value& b, int line) {
    if (op == "+") {
      if (a.is_string() && b.is_string()) return Value(a.str() + b.str());
      if (a.is(Kind::List) && b.is(Kind::List)) {
        List out = a.list();
        out.insert(out.end(), b.list().begin(), b.list().end());
        return Value(std::move(out));
      }
    }
    if (op == "*" && (a.is_string() || b.is_string()) && (a.is(Kind::Int) || b.is(Kind::Int))) {
      const std::string& s = a.is_string() ? a.str() : b.str();
      const int64_t n = a.is(Kind::Int) ? a.as_int() : b.as_int();
      if (n > 0 && s.size() * size_t(n) > kMaxOutput) throw JinjaError(line, "a string repeated past 16 MB");
      std::string out;
      for (int64_t i = 0; i < n; ++i) out += s;
      return Value(out);
    }
    auto number = [](const Value& v) { return v.is_number() || v.is(Kind::Bool); };
    if (!number(a) || !number(b))
      throw JinjaError(line, "cannot apply '" + op + "' to a " + a.type_name() + " and a " + b.type_name());
    auto as_i = [](const Value& v) { return v.is(Kind::Bool) ? int64_t(v.as_bool()) : v.as_int(); };
    auto as_f = [](const Value& v) { return v.is(Kind::Bool) ? double(v.as_bool()) : v.as_float(); };
    const bool ints = !a.is(Kind::Float) && !b.is(Kind::Float);
    if (op == "/") {
      if (as_f(b) == 0) throw JinjaError(line, "division by zero");
      return Value(as_f(a) / as_f(b));
    }
    if ((op == "//" || op == "%") && as_f(b) == 0) throw JinjaError(line, "division by zero");
    if (ints) {
      const int64_t x = as_i(a), y = as_i(b);
      if (op == "+") return Value(x + y);
      if (op == "-") return Value(x - y);
      if (op == "*") return Value(x * y);
      if (op == "//") return Value(int64_t(std::floor(double(x) / double(y))));
      if (op == "%") return Value(((x % y) + y) % y);
      if (op == "**") return y >= 0 ? Value(int64_t(std::pow(double(x), double(y)))) : Value(std::pow(double(x), double(y)));
    }
    const double x = as_f(a), y = as_f(b);
    if (op == "+") return Value(x + y);
    if (op == "-") return Value(x - y);
    if (op == "*") return Value(x * y);
    if (op == "//") return Value(std::floor(x / y));
    if (op == "%") return Value(x - y * std::floor(x / y));
    if (op == "**") return Value(std::pow(x, y));
    throw JinjaError(line, "the operator '" + op + "'", true);
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? eval(*e.args[1]) : a;
    }
    if (op == "or") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? a : eval(*e.args[1]);
    }
    const Value a = eval(*e.args[0]), b = eval(*e.args[1]);
    if (op == "==") return Value(a == b);
    if (op == "!=") return Value(a != b);
    if (op == "~") return Value(a.to_output() + b.to_output());
    if (op == "in" || op == "not in") {
      if (b.is_undefined()) throw JinjaError(e.line, "'in' an undefined value");
      Args arg;
      arg.positional.push_back(b);
      return Value(apply_test("in", a, arg, e.line) == (op == "in"));
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      Args arg;
      arg.positional.push_back(b);
      return Value(apply_test(op, a, arg, e.line));
    }
    if (a.is_undefined() || b.is_undefined()) throw JinjaError(e.line, "'" + op + "' on an undefined value");
    return arithmetic(op, a, b, e.line);
  }

  Value eval(const Expr& e) {
    line_ = e.line;
    switch (e.kind) {
      case ExprKind::Literal: return e.literal;
      case ExprKind::Name: return lookup(e.name);
      case ExprKind::Attr: return attribute(eval(*e.args[0]), e.name, e.line);
      case ExprKind::Item: {
        const Value object = eval(*e.args[0]);
        return item(object, eval(*e.args[1]), e.line);
      }
      case ExprKind::Slice: {
        const Value object = eval(*e.args[0]);
        Value parts[3];
        for (int i = 0; i < 3; ++i)
          if (e.args[size_t(i) + 1]) parts[i] = eval(*e.args[size_t(i) + 1]);
        return slice_of(object, parts[0], parts[1], parts[2], e.line);
      }
      case ExprKind::Call: return call(e);
      case ExprKind::Filter: {
        const Value subject = eval(*e.args[0]);
        return apply_filter(e.name, subject, eval_args(e, 1), e.line);
      }
      case ExprKind::Test: {
        const Value subject = eval(*e.args[0]);
        return Value(apply_test(e.name, subject, eval_args(e, 1), e.line) != e.negated);
      }
      case ExprKind::Unary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not") return Value(!v.truthy());
        if (v.is(Kind::Int)) return Value(e.name == "-" ? -v.as_int() : v.as_int());
        if (v.is(Kind::Float)) return Value(e.name == "-" ? -v.as_float() : v.as_float());
        throw JinjaError(e.line, "unary '" + e.name + "' on a " + v.type_name());
      }
      case ExprKind::Binary: return binary(e);
      case ExprKind::Cond: {
        if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value();
      }
      case ExprKind::List:
      case ExprKind::Tuple: {
        List items;
        for (const ExprPtr& a : e.args) items.push_back(eval(*a));
        return Value(std::move(items));
      }
      case ExprKind::Dict: {
        Value d{Dict{}};
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i]);
          if (!key.is_string()) throw JinjaError(e.line, "dict keys must be strings here");
          d.set(key.str(), eval(*e.args[i + 1]));
        }
        return d;
      }
    }
    return Value();
  }

  std::vector<std::shared_ptr<Scope>> scopes_;
  std::string out_;
  int line_ = 0;
  int depth_ = 0;
  int64_t steps_ = 0;
};

}  // namespace

Template::Template(const std::string& source) : body_(std::make_shared<const Body>(parse(lex(source)))) {}

std::string Template::render(const Dict& context) const { return Renderer(context).run(*body_); }

}  // namespace sq::jinja
