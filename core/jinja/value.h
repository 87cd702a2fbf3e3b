#pragma once
// A Jinja value, with Python's meaning: lists and dicts (and namespace() objects) are shared by
// reference, dicts keep their insertion order, and `undefined` is distinct from `none`, as chat
// templates test both. Plain C++.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sq::jinja {

class Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>;  // insertion order, as Python's dict

// Positional and keyword arguments of a call.
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* get(size_t index, const std::string& name) const;
};
using Function = std::function<Value(const Args&)>;

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

class Value {
 public:
  Value() = default;  // undefined
  static Value none();
  Value(bool b);
  Value(int v) : Value(int64_t(v)) {}
  Value(int64_t v);
  Value(double v);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  Value(List items);
  Value(Dict items);
  static Value namespace_of(Dict items);
  static Value function(Function f);
  static Value from_json(const nlohmann::json& j);

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_mapping() const { return kind_ == Kind::Dict || kind_ == Kind::Namespace; }

  bool truthy() const;
  int64_t as_int() const { return int_; }
  double as_float() const { return kind_ == Kind::Int ? double(int_) : float_; }
  bool as_bool() const { return bool_; }
  const std::string& str() const { return *string_; }
  List& list() const { return *list_; }
  Dict& dict() const { return *dict_; }
  const Function& fn() const { return *fn_; }

  // Dict and namespace lookup: nullptr when absent.
  Value* find(const std::string& key) const;
  void set(const std::string& key, Value v) const;

  // str(x) as Python prints it, the way {{ x }} renders (none -> "None", lists in repr form).
  std::string to_output() const;
  // repr(x): strings quoted, as inside a printed list.
  std::string repr() const;
  // json.dumps(x, ensure_ascii=False, indent=indent), as transformers' tojson filter writes it.
  std::string to_json(int indent) const;
  const char* type_name() const;

  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  Kind kind_ = Kind::Undefined;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<std::string> string_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

}  // namespace sq::jinja
