#pragma once
// The filters, tests and methods chat templates call, with Jinja's and Python's meaning
// (transformers renders templates in Python's Jinja). Each table is the one list of what the
// renderer supports: the parser refuses names outside it.
#include <string>

#include "core/jinja/value.h"

namespace sq::jinja {

bool has_filter(const std::string& name);
bool has_test(const std::string& name);

// Each throws JinjaError (at `line`) for arguments of the wrong type.
Value apply_filter(const std::string& name, const Value& subject, const Args& args, int line);
bool apply_test(const std::string& name, const Value& subject, const Args& args, int line);
// obj.name(args) for strings, dicts and lists; returns false when there is no such method.
bool call_method(const Value& object, const std::string& name, const Args& args, int line, Value& result);

// Python's len(): code points for strings.
int64_t length_of(const Value& v, int line);
// Python's iteration: a list's items, a dict's keys, a string's characters; none for undefined.
List iterate(const Value& v, int line);
// Python's slicing, with code points for strings.
Value slice_of(const Value& v, const Value& start, const Value& stop, const Value& step, int line);

}  // namespace sq::jinja
