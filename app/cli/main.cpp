// `safequant`: the command-line front end. Exit codes: 0 success, 1 runtime failure, 2 bad usage.
#include <algorithm>
#include <iostream>

#include "app/cli/command.h"
#include "core/error.h"
#include "core/run/allocator.h"
#include "core/run/blas_kernels.h"
#include "core/run/reproducible.h"
#include "core/version.h"

namespace {

using sq::cli::Command;
using sq::cli::Option;

void print_overview(std::ostream& out) {
  out << "SafeQuant Workbench " << SAFEQUANT_VERSION
      << " - safety-aware post-training quantization of LLMs\n\n"
         "Usage: safequant <command> [options]   (safequant <command> --help for details)\n\n"
         "Commands:\n";
  for (const Command& c : sq::cli::commands()) {
    std::string line = "  " + c.name;
    line.resize(14, ' ');
    out << line << c.summary << "\n";
  }
  out << "\nGlobal options: --help, --version\n";
}

void print_help(const Command& c, std::ostream& out) {
  out << "Usage: safequant " << c.synopsis << "\n\n" << c.description << "\n";
  out << "\nOptions:\n";
  std::vector<Option> all = c.options;
  for (const Option& o : sq::cli::common_options()) all.push_back(o);
  for (const Option& o : all) {
    std::string left = "  --" + o.name + (o.meta.empty() ? "" : " " + o.meta);
    if (left.size() < 26) left.resize(26, ' ');
    out << left << " " << o.help << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  sq::keep_freed_memory();
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty()) {
    print_overview(std::cerr);
    return 2;
  }
  if (words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    print_overview(std::cout);
    return 0;
  }
  if (words[0] == "--version") {
    std::cout << "safequant " << SAFEQUANT_VERSION << "\n";
    return 0;
  }
  const auto& table = sq::cli::commands();
  auto cmd = std::find_if(table.begin(), table.end(), [&](const Command& c) { return c.name == words[0]; });
  if (cmd == table.end()) {
    std::cerr << "safequant: unknown command '" << words[0] << "' (see safequant --help)\n";
    return 2;
  }
  std::vector<std::string> rest(words.begin() + 1, words.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
    print_help(*cmd, std::cout);
    return 0;
  }
  std::vector<Option> options = cmd->options;
  for (const Option& o : sq::cli::common_options()) options.push_back(o);
  try {
    if (cmd->reproducible) sq::reexec_reproducible(argv);
    else sq::reexec_with_fitting_blas(argv);
    return cmd->run(sq::cli::Args::parse(rest, options, cmd->max_positional));
  } catch (const sq::cli::UsageError& e) {
    std::cerr << "safequant " << cmd->name << ": " << e.what() << "\nUsage: safequant " << cmd->synopsis << "\n";
    return 2;
  } catch (const sq::Cancelled&) {
    std::cerr << "safequant " << cmd->name << ": cancelled\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "safequant " << cmd->name << ": error: " << e.what() << "\n";
    return 1;
  }
}
