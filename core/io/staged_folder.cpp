#include "core/io/staged_folder.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/io/crash_point.h"

namespace sq {
namespace fs = std::filesystem;

const OutputKindInfo& info(OutputKind kind) {
  static const OutputKindInfo table[] = {
      {OutputKind::QuantRun, "a quantization run", "run.json"},
      {OutputKind::Zoo, "a demo zoo", "zoo.json"},
      {OutputKind::Export, "an export", "manifest.json"},
      {OutputKind::Probe, "a probe folder", "probe.json"},
      {OutputKind::Run, "a pipeline run", "run-config.json"},
  };
  return table[static_cast<int>(kind)];
}

bool is_output_of_kind(const std::string& dir, OutputKind kind) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / info(kind).marker, ec);
}

namespace {

// The absolute path with links resolved as far as it exists, without a trailing separator.
fs::path resolved(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) p = fs::absolute(path).lexically_normal();
  if (p.has_parent_path() && p.filename().empty()) p = p.parent_path();
  return p;
}

// Is `inner` the folder `outer` or inside it?
bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i)
    if (i == inner.end() || *i != *o) return false;
  return true;
}

std::string staging_prefix(const fs::path& target) { return "." + target.filename().string() + ".staging-"; }

bool running(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

void refuse_overlap(const std::string& output, const std::string& input) {
  if (input.empty()) return;
  const fs::path o = resolved(output), i = resolved(input);
  if (o == i) throw Error(output, "is also an input of this command (" + input + "); choose another output folder");
  if (within(o, i)) throw Error(output, "lies inside an input of this command (" + input + "); choose a folder outside it");
  if (within(i, o)) throw Error(output, "holds an input of this command (" + input + "); replacing it would delete that input");
}

StagedFolder::StagedFolder(const std::string& target, OutputKind kind, bool replace, const std::vector<std::string>& inputs)
    : kind_(kind) {
  if (target.empty()) throw Error("no output folder given");
  const OutputKindInfo& k = info(kind);
  const fs::path t = resolved(target);
  target_ = t.string();
  for (const std::string& input : inputs) refuse_overlap(target, input);
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (!ec && within(resolved(cwd.string()), t))
    throw Error(target, "is the current folder or holds it; choose an output folder beside it");
  if (fs::exists(fs::symlink_status(t, ec))) {
    if (!fs::is_directory(t, ec)) throw Error(target, std::string("exists and is not a folder; it is left as it is"));
    if (!fs::is_empty(t, ec)) {
      if (!is_output_of_kind(t.string(), kind))
        throw Error(target, std::string("exists and is not ") + k.name + " (it has no " + k.marker +
                                "); nothing in it is replaced: choose a new folder");
      if (!replace) throw Error(target, std::string("holds ") + k.name + " already; --force replaces it");
    }
  }
  fs::create_directories(t.parent_path(), ec);
  if (ec) throw Error(target, "cannot create the folder: " + ec.message());
  // Staging folders of processes that are gone: an interrupted write, or the previous output a
  // kill left behind right after the exchange.
  const std::string prefix = staging_prefix(t);
  for (const auto& entry : fs::directory_iterator(t.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && pid != ::getpid() && running(pid_t(pid))) continue;  // another write under way
    std::error_code rm;
    fs::remove_all(entry.path(), rm);
    cleaned_.push_back(entry.path().string());
  }
  staging_ = (t.parent_path() / (prefix + std::to_string(::getpid()))).string();
  if (!fs::create_directory(staging_, ec) || ec)
    throw Error(target, "cannot write beside it (" + staging_ + "): " + (ec ? ec.message() : std::string("exists")));
}

StagedFolder::~StagedFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagedFolder::commit() {
  if (committed_) return;
  if (!is_output_of_kind(staging_, kind_))
    throw Error(target_, std::string("the new output is incomplete (no ") + info(kind_).marker + ")");
  crash_point("output staged");
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(target_, ec))) {
    if (std::rename(staging_.c_str(), target_.c_str()) != 0)
      throw Error(target_, std::string("cannot move the new output into place: ") + std::strerror(errno));
  } else {
    // One atomic step: the new output takes the target's name and the previous one the staging
    // name, so no moment exists where the target is missing or mixed.
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0)
      throw Error(target_, std::string("cannot replace the previous output atomically: ") + std::strerror(errno));
    committed_ = true;
    crash_point("output exchanged");
    fs::remove_all(staging_, ec);  // the previous output
  }
  committed_ = true;
  crash_point("output committed");
}

}  // namespace sq
