#pragma once
// Command-line options of one `safequant` command: `--name value`, `--name v1 v2 …`, `--flag`
// and positionals, checked against the command's declared options.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sq::cli {

// Bad usage: the CLI prints it with the command's usage line and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Option {
  enum Kind { Flag, Value, Values };
  std::string name;  // without the leading dashes
  Kind kind;
  std::string meta;  // what the value is, for --help ("DIR", "N")
  std::string help;
};

class Args {
 public:
  static Args parse(const std::vector<std::string>& argv, const std::vector<Option>& options,
                    size_t max_positional);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::string required(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  int get_int(const std::string& name, int fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

}  // namespace sq::cli
