#include "core/run/resources.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace sq {

std::string data_dir() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("SAFEQUANT_DATA")) candidates.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "safequant" / "data");
  candidates.emplace_back(SAFEQUANT_SOURCE_DATA_DIR);
  for (const fs::path& p : candidates)
    if (fs::exists(p / "refusal_prefixes.json")) return p.string();
  std::string tried;
  for (const fs::path& p : candidates) tried += (tried.empty() ? "" : ", ") + p.string();
  throw Error("the shipped data folder was not found (looked in " + tried + "; set SAFEQUANT_DATA)");
}

std::string data_file(const std::string& name) { return (std::filesystem::path(data_dir()) / name).string(); }

std::string cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path base = xdg && *xdg ? std::filesystem::path(xdg) : std::filesystem::path(home && *home ? home : "/tmp") / ".cache";
  return (base / "safequant").string();
}

}  // namespace sq
