#include "core/jinja/builtins.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "core/jinja/jinja_error.h"
#include "core/text/unicode_text.h"

namespace sq::jinja {
namespace {

const std::set<std::string>& filter_names() {
  static const std::set<std::string> names = {
      "abs",    "capitalize", "count",   "d",       "default", "dictsort", "e",       "escape",     "first",
      "float",  "indent",     "int",     "items",   "join",    "last",     "length",  "list",       "lower",
      "map",    "max",        "min",     "reject",  "rejectattr", "replace", "reverse", "round",    "safe",
      "select", "selectattr", "sort",    "string",  "sum",     "title",    "tojson",  "trim",       "unique",
      "upper",  "wordcount"};
  return names;
}

const std::set<std::string>& test_names() {
  static const std::set<std::string> names = {
      "boolean", "callable", "defined", "divisibleby", "eq",     "equalto", "even",   "false",  "float",
      "ge",      "gt",       "in",      "integer",     "iterable", "le",    "lower",  "lt",     "mapping",
      "ne",      "none",     "number",  "odd",         "sameas", "sequence", "string", "true",  "undefined",
      "upper",   "==",       "!=",      "<",           "<=",     ">",        ">="};
  return names;
}

[[noreturn]] void type_error(int line, const std::string& what) { throw JinjaError(line, what); }

const std::string& need_string(const Value& v, const char* who, int line) {
  if (!v.is_string()) type_error(line, std::string(who) + " needs a string, not " + v.type_name());
  return v.str();
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string strip(const std::string& s, const Value* chars, bool left, bool right) {
  auto drop = [&](char c) { return chars && chars->is_string() ? chars->str().find(c) != std::string::npos : is_ws(c); };
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && drop(s[b])) ++b;
  if (right)
    while (e > b && drop(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string map_case(const std::string& s, int (*f)(int)) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x80) c = char(f(static_cast<unsigned char>(c)));
  return out;
}

std::string title_case(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = char(start ? std::toupper(u) : std::tolower(u));
      start = false;
    } else {
      start = !std::isdigit(u) && u < 0x80;
    }
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = map_case(s, [](int c) { return std::tolower(c); });
  if (!out.empty() && static_cast<unsigned char>(out[0]) < 0x80) out[0] = char(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

List split(const std::string& s, const Value* sep, int64_t maxsplit) {
  List out;
  if (!sep || sep->is_none() || sep->is_undefined()) {
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_ws(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
        size_t e = s.size();
        while (e > i && is_ws(s[e - 1])) --e;
        out.emplace_back(s.substr(i, e - i));
        break;
      }
      size_t e = i;
      while (e < s.size() && !is_ws(s[e])) ++e;
      out.emplace_back(s.substr(i, e - i));
      i = e;
    }
    return out;
  }
  const std::string& d = sep->str();
  if (d.empty()) throw std::invalid_argument("empty separator");
  size_t from = 0;
  while (true) {
    const size_t at = s.find(d, from);
    if (at == std::string::npos || (maxsplit >= 0 && int64_t(out.size()) == maxsplit)) break;
    out.emplace_back(s.substr(from, at - from));
    from = at + d.size();
  }
  out.emplace_back(s.substr(from));
  return out;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) return s;
  std::string out;
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(from, pos);
    if (at == std::string::npos) break;
    out += s.substr(pos, at - pos) + to;
    pos = at + from.size();
    ++done;
  }
  return out + s.substr(pos);
}

bool starts_or_ends(const std::string& s, const Value& what, bool start, int line) {
  auto one = [&](const Value& p) {
    const std::string& t = need_string(p, start ? "startswith" : "endswith", line);
    if (t.size() > s.size()) return false;
    return start ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  if (what.is(Kind::List)) {
    for (const Value& p : what.list())
      if (one(p)) return true;
    return false;
  }
  return one(what);
}

int compare_values(const Value& a, const Value& b, int line) {
  if (a.is_number() && b.is_number()) return a.as_float() < b.as_float() ? -1 : a.as_float() > b.as_float() ? 1 : 0;
  if (a.is_string() && b.is_string()) return a.str().compare(b.str());
  type_error(line, std::string("cannot order ") + a.type_name() + " and " + b.type_name());
}

Value attribute_of(const Value& v, const std::string& path) {
  Value cur = v;
  size_t from = 0;
  while (true) {
    const size_t dot = path.find('.', from);
    const std::string part = path.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    const Value* next = cur.find(part);
    if (!next && cur.is(Kind::List) && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      const size_t i = std::stoul(part);
      cur = i < cur.list().size() ? cur.list()[i] : Value();
    } else {
      cur = next ? *next : Value();
    }
    if (dot == std::string::npos) return cur;
    from = dot + 1;
  }
}

// select/reject/selectattr/rejectattr: the items whose test (or truth) is `keep`.
Value filter_by_test(const Value& seq, const Args& args, bool by_attribute, bool keep, int line) {
  size_t next_arg = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty() || !args.positional[0].is_string()) type_error(line, "selectattr/rejectattr need an attribute name");
    attribute = args.positional[0].str();
    next_arg = 1;
  }
  std::string test;
  Args test_args;
  if (args.positional.size() > next_arg) {
    test = need_string(args.positional[next_arg], "select/reject", line);
    if (!has_test(test)) throw JinjaError(line, "the test '" + test + "'", true);
    test_args.positional.assign(args.positional.begin() + std::ptrdiff_t(next_arg) + 1, args.positional.end());
  }
  List out;
  for (const Value& item : iterate(seq, line)) {
    const Value subject = by_attribute ? attribute_of(item, attribute) : item;
    const bool pass = test.empty() ? subject.truthy() : apply_test(test, subject, test_args, line);
    if (pass == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

int64_t int_arg(const Args& args, size_t index, const std::string& name, int64_t fallback) {
  const Value* v = args.get(index, name);
  return v && v->is(Kind::Int) ? v->as_int() : fallback;
}

bool bool_arg(const Args& args, size_t index, const std::string& name) {
  const Value* v = args.get(index, name);
  return v && v->truthy();
}

}  // namespace

bool has_filter(const std::string& name) { return filter_names().count(name) > 0; }
bool has_test(const std::string& name) { return test_names().count(name) > 0; }

int64_t length_of(const Value& v, int line) {
  switch (v.kind()) {
    case Kind::String: return int64_t(unicode::utf8_chars(v.str()).size());
    case Kind::List: return int64_t(v.list().size());
    case Kind::Dict:
    case Kind::Namespace: return int64_t(v.dict().size());
    case Kind::Undefined: return 0;
    default: type_error(line, std::string("a ") + v.type_name() + " has no length");
  }
}

List iterate(const Value& v, int line) {
  switch (v.kind()) {
    case Kind::List: return v.list();
    case Kind::Dict: {
      List keys;
      for (const auto& kv : v.dict()) keys.emplace_back(kv.first);
      return keys;
    }
    case Kind::String: {
      List chars;
      for (auto& c : unicode::utf8_chars(v.str())) chars.emplace_back(c);
      return chars;
    }
    case Kind::Undefined: return {};
    default: type_error(line, std::string("cannot iterate over a ") + v.type_name());
  }
}

Value slice_of(const Value& v, const Value& start_v, const Value& stop_v, const Value& step_v, int line) {
  auto bound = [&](const Value& b) -> const Value* {
    if (b.is_undefined() || b.is_none()) return nullptr;
    if (!b.is(Kind::Int)) type_error(line, "slice bounds must be integers");
    return &b;
  };
  const Value *start_p = bound(start_v), *stop_p = bound(stop_v), *step_p = bound(step_v);
  const int64_t step = step_p ? step_p->as_int() : 1;
  if (step == 0) type_error(line, "a slice step cannot be zero");
  std::vector<std::string> chars;
  const bool is_string = v.is_string();
  if (is_string) chars = unicode::utf8_chars(v.str());
  else if (!v.is(Kind::List)) type_error(line, std::string("cannot slice a ") + v.type_name());
  const int64_t n = is_string ? int64_t(chars.size()) : int64_t(v.list().size());
  auto clamp = [&](const Value* b, int64_t dflt) {
    if (!b) return dflt;
    int64_t i = b->as_int();
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t start = clamp(start_p, step > 0 ? 0 : n - 1), stop = clamp(stop_p, step > 0 ? n : -1);
  std::string s;
  List items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (is_string) s += chars[size_t(i)];
    else items.push_back(v.list()[size_t(i)]);
  }
  return is_string ? Value(s) : Value(std::move(items));
}

bool apply_test(const std::string& name, const Value& v, const Args& args, int line) {
  const Value* arg = args.get(0, "value");
  auto need_arg = [&]() -> const Value& {
    if (!arg) type_error(line, "the test '" + name + "' needs an argument");
    return *arg;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is(Kind::Dict);
  if (name == "iterable") return v.is_string() || v.is(Kind::List) || v.is(Kind::Dict);
  if (name == "sequence") return v.is_string() || v.is(Kind::List) || v.is(Kind::Dict);
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is(Kind::Int);
  if (name == "float") return v.is(Kind::Float);
  if (name == "boolean") return v.is(Kind::Bool);
  if (name == "true") return v.is(Kind::Bool) && v.as_bool();
  if (name == "false") return v.is(Kind::Bool) && !v.as_bool();
  if (name == "callable") return v.is(Kind::Function);
  if (name == "lower") return v.is_string() && map_case(v.str(), [](int c) { return std::tolower(c); }) == v.str();
  if (name == "upper") return v.is_string() && map_case(v.str(), [](int c) { return std::toupper(c); }) == v.str();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is(Kind::Int)) type_error(line, "the test '" + name + "' needs an integer");
    if (name == "divisibleby") {
      const Value& d = need_arg();
      if (!d.is(Kind::Int) || d.as_int() == 0) type_error(line, "divisibleby needs a non-zero integer");
      return v.as_int() % d.as_int() == 0;
    }
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "eq" || name == "equalto" || name == "==") return v == need_arg();
  if (name == "ne" || name == "!=") return v != need_arg();
  if (name == "sameas") return v == need_arg() && v.kind() == need_arg().kind();
  if (name == "lt" || name == "<") return compare_values(v, need_arg(), line) < 0;
  if (name == "le" || name == "<=") return compare_values(v, need_arg(), line) <= 0;
  if (name == "gt" || name == ">") return compare_values(v, need_arg(), line) > 0;
  if (name == "ge" || name == ">=") return compare_values(v, need_arg(), line) >= 0;
  if (name == "in") {
    const Value& c = need_arg();
    if (c.is_string()) return v.is_string() && c.str().find(v.str()) != std::string::npos;
    if (c.is_mapping()) return v.is_string() && c.find(v.str()) != nullptr;
    for (const Value& e : iterate(c, line))
      if (e == v) return true;
    return false;
  }
  throw JinjaError(line, "the test '" + name + "'", true);
}

Value apply_filter(const std::string& name, const Value& v, const Args& args, int line) {
  if (name == "safe") return v;
  if (name == "trim") return Value(strip(need_string(v, "trim", line), args.get(0, "chars"), true, true));
  if (name == "upper") return Value(map_case(need_string(v, "upper", line), [](int c) { return std::toupper(c); }));
  if (name == "lower") return Value(map_case(need_string(v, "lower", line), [](int c) { return std::tolower(c); }));
  if (name == "capitalize") return Value(capitalize(need_string(v, "capitalize", line)));
  if (name == "title") return Value(title_case(need_string(v, "title", line)));
  if (name == "string") return v.is_string() ? v : Value(v.to_output());
  if (name == "e" || name == "escape") return Value(html_escape(v.to_output()));
  if (name == "length" || name == "count") return Value(length_of(v, line));
  if (name == "wordcount") return Value(int64_t(split(need_string(v, "wordcount", line), nullptr, -1).size()));
  if (name == "tojson") {
    const Value* indent = args.get(0, "indent");
    return Value(v.to_json(indent && indent->is(Kind::Int) ? int(indent->as_int()) : 0));
  }
  if (name == "default" || name == "d") {
    const Value* fallback = args.get(0, "default_value");
    const bool boolean = bool_arg(args, 1, "boolean");
    if (v.is_undefined() || (boolean && !v.truthy())) return fallback ? *fallback : Value(std::string());
    return v;
  }
  if (name == "list") return Value(iterate(v, line));
  if (name == "items") {
    if (v.is_undefined()) return Value(List{});
    if (!v.is_mapping()) type_error(line, std::string("items needs a mapping, not ") + v.type_name());
    List out;
    for (const auto& [k, e] : v.dict()) out.emplace_back(List{Value(k), e});
    return Value(std::move(out));
  }
  if (name == "dictsort") {
    if (!v.is_mapping()) type_error(line, "dictsort needs a mapping");
    Dict sorted = v.dict();
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    List out;
    for (const auto& [k, e] : sorted) out.emplace_back(List{Value(k), e});
    return Value(std::move(out));
  }
  if (name == "join") {
    const Value* sep = args.get(0, "d");
    const Value* attribute = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& e : iterate(v, line)) {
      if (!first) out += sep && sep->is_string() ? sep->str() : "";
      first = false;
      out += (attribute && attribute->is_string() ? attribute_of(e, attribute->str()) : e).to_output();
    }
    return Value(out);
  }
  if (name == "first" || name == "last") {
    List items = iterate(v, line);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto chars = unicode::utf8_chars(v.str());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value(out);
    }
    List items = iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "unique") {
    List out;
    for (const Value& e : iterate(v, line))
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    return Value(std::move(out));
  }
  if (name == "sort") {
    List items = iterate(v, line);
    const bool reverse = bool_arg(args, 0, "reverse");
    const Value* attribute = args.get(2, "attribute");
    auto key = [&](const Value& e) { return attribute && attribute->is_string() ? attribute_of(e, attribute->str()) : e; };
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
      const int c = compare_values(key(a), key(b), line);
      return reverse ? c > 0 : c < 0;
    });
    return Value(std::move(items));
  }
  if (name == "min" || name == "max") {
    List items = iterate(v, line);
    if (items.empty()) return Value();
    Value best = items[0];
    for (const Value& e : items) {
      const int c = compare_values(e, best, line);
      if (name == "min" ? c < 0 : c > 0) best = e;
    }
    return best;
  }
  if (name == "sum") {
    const Value* attribute = args.get(0, "attribute");
    Value total = args.get(1, "start") ? *args.get(1, "start") : Value(int64_t(0));
    for (const Value& e0 : iterate(v, line)) {
      const Value e = attribute && attribute->is_string() ? attribute_of(e0, attribute->str()) : e0;
      if (!e.is_number() || !total.is_number()) type_error(line, "sum needs numbers");
      total = total.is(Kind::Int) && e.is(Kind::Int) ? Value(total.as_int() + e.as_int()) : Value(total.as_float() + e.as_float());
    }
    return total;
  }
  if (name == "abs") {
    if (v.is(Kind::Int)) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    if (v.is(Kind::Float)) return Value(std::fabs(v.as_float()));
    type_error(line, "abs needs a number");
  }
  if (name == "int") {
    if (v.is(Kind::Int)) return v;
    if (v.is(Kind::Float)) return Value(int64_t(v.as_float()));
    if (v.is(Kind::Bool)) return Value(int64_t(v.as_bool()));
    if (v.is_string()) {
      try {
        size_t used = 0;
        const int64_t i = std::stoll(strip(v.str(), nullptr, true, true), &used);
        return Value(i);
      } catch (const std::exception&) {
      }
    }
    return Value(int_arg(args, 0, "default", 0));
  }
  if (name == "float") {
    if (v.is_number()) return Value(v.as_float());
    if (v.is_string()) {
      try {
        return Value(std::stod(v.str()));
      } catch (const std::exception&) {
      }
    }
    return Value(0.0);
  }
  if (name == "round") {
    if (!v.is_number()) type_error(line, "round needs a number");
    const double scale = std::pow(10.0, double(int_arg(args, 0, "precision", 0)));
    return Value(std::round(v.as_float() * scale) / scale);
  }
  if (name == "replace") {
    const Value* from = args.get(0, "old");
    const Value* to = args.get(1, "new");
    if (!from || !to || !from->is_string() || !to->is_string()) type_error(line, "replace needs two strings");
    return Value(replace_all(need_string(v, "replace", line), from->str(), to->str(), int_arg(args, 2, "count", -1)));
  }
  if (name == "indent") {
    const Value* width_v = args.get(0, "width");
    const std::string pad = width_v && width_v->is_string() ? width_v->str()
                                                            : std::string(size_t(int_arg(args, 0, "width", 4)), ' ');
    const bool first = bool_arg(args, 1, "first"), blank = bool_arg(args, 2, "blank");
    const Value newline("\n");
    const List lines = split(need_string(v, "indent", line), &newline, -1);
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string& l = lines[i].str();
      if (i) out += "\n";
      if ((i > 0 || first) && (blank || !l.empty())) out += pad;
      out += l;
    }
    return Value(out);
  }
  if (name == "select" || name == "reject") return filter_by_test(v, args, false, name == "select", line);
  if (name == "selectattr" || name == "rejectattr") return filter_by_test(v, args, true, name == "selectattr", line);
  if (name == "map") {
    List out;
    if (const Value* attribute = args.get(99, "attribute")) {
      const Value* fallback = args.get(99, "default");
      for (const Value& e : iterate(v, line)) {
        Value a = attribute_of(e, attribute->to_output());
        out.push_back(a.is_undefined() && fallback ? *fallback : a);
      }
      return Value(std::move(out));
    }
    if (args.positional.empty() || !args.positional[0].is_string()) type_error(line, "map needs a filter name or attribute=");
    const std::string filter = args.positional[0].str();
    if (!has_filter(filter)) throw JinjaError(line, "the filter '" + filter + "'", true);
    Args rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const Value& e : iterate(v, line)) out.push_back(apply_filter(filter, e, rest, line));
    return Value(std::move(out));
  }
  throw JinjaError(line, "the filter '" + name + "'", true);
}

bool call_method(const Value& object, const std::string& name, const Args& args, int line, Value& result) {
  const Value* a0 = args.positional.empty() ? nullptr : &args.positional[0];
  const Value* a1 = args.positional.size() > 1 ? &args.positional[1] : nullptr;
  if (object.is_string()) {
    const std::string& s = object.str();
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      result = Value(strip(s, a0, name != "rstrip", name != "lstrip"));
    } else if (name == "split") {
      const Value* sep = args.get(0, "sep");
      try {
        result = Value(split(s, sep, int_arg(args, 1, "maxsplit", -1)));
      } catch (const std::invalid_argument&) {
        type_error(line, "split with an empty separator");
      }
    } else if (name == "startswith" || name == "endswith") {
      if (!a0) type_error(line, name + " needs an argument");
      result = Value(starts_or_ends(s, *a0, name == "startswith", line));
    } else if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
      result = apply_filter(name, object, {}, line);
    } else if (name == "replace") {
      result = apply_filter("replace", object, args, line);
    } else if (name == "find" || name == "count") {
      const std::string& t = need_string(a0 ? *a0 : Value(), name.c_str(), line);
      if (name == "find") {
        const size_t at = s.find(t);
        result = Value(at == std::string::npos ? int64_t(-1) : int64_t(unicode::utf8_chars(s.substr(0, at)).size()));
      } else {
        int64_t n = 0;
        for (size_t at = t.empty() ? std::string::npos : s.find(t); at != std::string::npos; at = s.find(t, at + t.size())) ++n;
        result = Value(n);
      }
    } else if (name == "join") {
      std::string out;
      bool first = true;
      for (const Value& e : iterate(a0 ? *a0 : Value(), line)) {
        if (!first) out += s;
        first = false;
        out += need_string(e, "join", line);
      }
      result = Value(out);
    } else if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum") {
      int (*f)(int) = name == "isdigit" ? ::isdigit : name == "isspace" ? ::isspace : name == "isalpha" ? ::isalpha : ::isalnum;
      result = Value(!s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return f(static_cast<unsigned char>(c)) != 0; }));
    } else {
      return false;
    }
    return true;
  }
  if (object.is(Kind::Dict)) {
    if (name == "get") {
      if (!a0 || !a0->is_string()) type_error(line, "get needs a key");
      const Value* found = object.find(a0->str());
      result = found ? *found : a1 ? *a1 : Value::none();
    } else if (name == "items") {
      result = apply_filter("items", object, {}, line);
    } else if (name == "keys" || name == "values") {
      List out;
      for (const auto& [k, e] : object.dict()) out.push_back(name == "keys" ? Value(k) : e);
      result = Value(std::move(out));
    } else {
      return false;
    }
    return true;
  }
  return false;
}

}  // namespace sq::jinja
