#include "app/cli/args.h"

#include <algorithm>

namespace sq::cli {

Args Args::parse(const std::vector<std::string>& argv, const std::vector<Option>& options,
                 size_t max_positional) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word.rfind("--", 0) != 0 || word == "--") {
      a.positional_.push_back(word);
      continue;
    }
    std::string name = word.substr(2);
    std::string inline_value;
    const bool has_inline = name.find('=') != std::string::npos;
    if (has_inline) {
      inline_value = name.substr(name.find('=') + 1);
      name = name.substr(0, name.find('='));
    }
    auto opt = std::find_if(options.begin(), options.end(), [&](const Option& o) { return o.name == name; });
    if (opt == options.end()) throw UsageError("unknown option --" + name);
    auto& slot = a.values_[name];
    if (opt->kind == Option::Flag) {
      if (has_inline) throw UsageError("--" + name + " takes no value");
      continue;
    }
    if (has_inline) {
      slot.push_back(inline_value);
    } else {
      // A value may itself start with '-' (a negative number), but never with '--'.
      while (i + 1 < argv.size() && argv[i + 1].rfind("--", 0) != 0) {
        slot.push_back(argv[++i]);
        if (opt->kind == Option::Value) break;
      }
    }
    if (slot.empty()) throw UsageError("--" + name + " needs " + (opt->meta.empty() ? "a value" : opt->meta));
    if (opt->kind == Option::Value && slot.size() > 1) throw UsageError("--" + name + " given more than once");
  }
  if (a.positional_.size() > max_positional)
    throw UsageError("unexpected argument '" + a.positional_[max_positional] + "'");
  return a;
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? fallback : it->second.front();
}

std::string Args::required(const std::string& name) const {
  if (!has(name)) throw UsageError("--" + name + " is required");
  return get(name);
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int Args::get_int(const std::string& name, int fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    size_t used = 0;
    const int n = std::stoi(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  throw UsageError("--" + name + " expects a whole number, got '" + v + "'");
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw UsageError("--" + name + " expects a number, got '" + v + "'");
}

}  // namespace sq::cli
