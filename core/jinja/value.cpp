#include "core/jinja/value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace sq::jinja {

const Value* Args::get(size_t index, const std::string& name) const {
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return index < positional.size() ? &positional[index] : nullptr;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}
Value::Value(bool b) : kind_(Kind::Bool), bool_(b) {}
Value::Value(int64_t v) : kind_(Kind::Int), int_(v) {}
Value::Value(double v) : kind_(Kind::Float), float_(v) {}
Value::Value(std::string s) : kind_(Kind::String), string_(std::make_shared<std::string>(std::move(s))) {}
Value::Value(List items) : kind_(Kind::List), list_(std::make_shared<List>(std::move(items))) {}
Value::Value(Dict items) : kind_(Kind::Dict), dict_(std::make_shared<Dict>(std::move(items))) {}

Value Value::namespace_of(Dict items) {
  Value v(std::move(items));
  v.kind_ = Kind::Namespace;
  return v;
}

Value Value::function(Function f) {
  Value v;
  v.kind_ = Kind::Function;
  v.fn_ = std::make_shared<Function>(std::move(f));
  return v;
}

Value Value::from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return none();
    case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return Value(j.get<int64_t>());
    case nlohmann::json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      List items;
      for (const auto& e : j) items.push_back(from_json(e));
      return Value(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict items;
      for (auto it = j.begin(); it != j.end(); ++it) items.emplace_back(it.key(), from_json(it.value()));
      return Value(std::move(items));
    }
    default: return Value();
  }
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return bool_;
    case Kind::Int: return int_ != 0;
    case Kind::Float: return float_ != 0;
    case Kind::String: return !string_->empty();
    case Kind::List: return !list_->empty();
    case Kind::Dict: return !dict_->empty();
    case Kind::Namespace:
    case Kind::Function: return true;
  }
  return false;
}

Value* Value::find(const std::string& key) const {
  if (!is_mapping()) return nullptr;
  for (auto& [k, v] : *dict_)
    if (k == key) return &v;
  return nullptr;
}

void Value::set(const std::string& key, Value v) const {
  if (Value* slot = find(key)) {
    *slot = std::move(v);
    return;
  }
  dict_->emplace_back(key, std::move(v));
}

namespace {

// Python's repr of a float: the shortest digits that read back, fixed notation between 1e-4
// and 1e16, and ".0" on whole numbers.
std::string python_float(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  // buf holds d.ddde±XX with the shortest mantissa.
  std::string s(buf);
  const size_t e = s.find('e');
  const int exponent = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (std::isdigit(static_cast<unsigned char>(s[i]))) digits += s[i];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const std::string sign = x < 0 ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    std::string m = digits.substr(0, 1);
    if (digits.size() > 1) m += "." + digits.substr(1);
    char ex[16];
    std::snprintf(ex, sizeof ex, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return sign + m + ex;
  }
  if (exponent < 0) return sign + "0." + std::string(size_t(-exponent - 1), '0') + digits;
  if (size_t(exponent) + 1 >= digits.size())
    return sign + digits + std::string(size_t(exponent) + 1 - digits.size(), '0') + ".0";
  return sign + digits.substr(0, size_t(exponent) + 1) + "." + digits.substr(size_t(exponent) + 1);
}

std::string python_repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == quote) out += std::string("\\") + char(c);
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + quote;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

void write_json(const Value& v, int indent, int depth, std::string& out) {
  const std::string item_sep = indent > 0 ? "," : ", ";
  auto newline = [&](int d) {
    if (indent > 0) out += "\n" + std::string(size_t(indent * d), ' ');
  };
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None: out += "null"; return;
    case Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.as_int()); return;
    case Kind::Float: {
      const double x = v.as_float();
      out += std::isnan(x) ? "NaN" : std::isinf(x) ? (x > 0 ? "Infinity" : "-Infinity") : python_float(x);
      return;
    }
    case Kind::String: out += json_string(v.str()); return;
    case Kind::List: {
      if (v.list().empty()) {
        out += "[]";
        return;
      }
      out += "[";
      for (size_t i = 0; i < v.list().size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        write_json(v.list()[i], indent, depth + 1, out);
      }
      newline(depth);
      out += "]";
      return;
    }
    case Kind::Dict:
    case Kind::Namespace: {
      if (v.dict().empty()) {
        out += "{}";
        return;
      }
      out += "{";
      bool first = true;
      for (const auto& [k, e] : v.dict()) {
        if (!first) out += item_sep;
        first = false;
        newline(depth + 1);
        out += json_string(k) + ": ";
        write_json(e, indent, depth + 1, out);
      }
      newline(depth);
      out += "}";
      return;
    }
    case Kind::Function: out += "null"; return;
  }
}

}  // namespace

std::string Value::repr() const {
  if (kind_ == Kind::String) return python_repr_string(*string_);
  return to_output();
}

std::string Value::to_output() const {
  switch (kind_) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return bool_ ? "True" : "False";
    case Kind::Int: return std::to_string(int_);
    case Kind::Float: return python_float(float_);
    case Kind::String: return *string_;
    case Kind::List: {
      std::string out = "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].repr();
      return out + "]";
    }
    case Kind::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : *dict_) {
        out += (first ? "" : ", ") + python_repr_string(k) + ": " + v.repr();
        first = false;
      }
      return out + "}";
    }
    case Kind::Namespace: return "<Namespace>";
    case Kind::Function: return "<function>";
  }
  return "";
}

std::string Value::to_json(int indent) const {
  std::string out;
  write_json(*this, indent, 0, out);
  return out;
}

const char* Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "none";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "namespace";
    case Kind::Function: return "function";
  }
  return "value";
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind_ == Kind::Int && b.kind_ == Kind::Int) return a.int_ == b.int_;
    return a.as_float() == b.as_float();
  }
  // Python: True == 1.
  if (a.kind_ == Kind::Bool && b.is_number()) return Value(int64_t(a.bool_)) == b;
  if (b.kind_ == Kind::Bool && a.is_number()) return a == Value(int64_t(b.bool_));
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::Bool: return a.bool_ == b.bool_;
    case Kind::String: return *a.string_ == *b.string_;
    case Kind::List: return *a.list_ == *b.list_;
    case Kind::Dict: {
      if (a.dict_->size() != b.dict_->size()) return false;
      for (const auto& [k, v] : *a.dict_) {
        const Value* other = b.find(k);
        if (!other || !(v == *other)) return false;
      }
      return true;
    }
    case Kind::Namespace:
    case Kind::Function: return a.dict_ == b.dict_ && a.fn_ == b.fn_;
    default: return false;
  }
}

}  // namespace sq::jinja
