#include "app/cli/child_process.h"

#include <fcntl.h>
#include <spawn.h>

#include <cstdlib>

#include "core/error.h"

extern char** environ;

namespace sq::cli {

pid_t spawn(std::vector<std::string> argv, const std::string& log, const std::vector<std::string>& extra_env) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  if (!log.empty()) posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&files, log.empty() ? 2 : 1, log.empty() ? 1 : 2);
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  std::vector<char*> env;
  for (char** v = environ; *v; ++v) env.push_back(*v);
  std::vector<std::string> extra = extra_env;
  for (std::string& v : extra) env.push_back(v.data());
  env.push_back(nullptr);
  const int e = posix_spawn(&pid, argv.front().c_str(), &files, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&files);
  if (e != 0) throw Error(log.empty() ? argv.front() : log, "cannot start " + argv.front());
  return pid;
}

std::vector<std::string> side_by_side_env(bool side_by_side) {
  if (side_by_side && !std::getenv("OMP_WAIT_POLICY")) return {"OMP_WAIT_POLICY=PASSIVE"};
  return {};
}

}  // namespace sq::cli
