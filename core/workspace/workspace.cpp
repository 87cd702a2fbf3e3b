#include "core/workspace/workspace.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace sq {
namespace fs = std::filesystem;

Workspace::Workspace(std::string dir) : dir_(fs::path(std::move(dir)).lexically_normal().string()) {
  if (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (!fs::is_directory(dir_)) throw Error(dir_, "cannot make the workspace folder" + (ec ? ": " + ec.message() : std::string()));
}

std::string Workspace::runs_dir() const { return (fs::path(dir_) / "runs").string(); }

std::string Workspace::new_run_dir(QuantMethod method, const std::string& scheme, const std::string& stamp) const {
  return (fs::path(runs_dir()) / (std::string(info(method).name) + "-" + scheme + "-" + stamp)).string();
}

std::string Workspace::sweeps_dir() const { return (fs::path(dir_) / "sweeps").string(); }

std::string Workspace::new_sweep_config(const std::string& stamp) const {
  return (fs::path(sweeps_dir()) / (stamp + ".sweep.json")).string();
}

std::vector<std::string> Workspace::sweeps() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& d : fs::directory_iterator(sweeps_dir(), ec))
    if (d.is_directory(ec) && fs::is_regular_file(d.path() / "sweep.json", ec)) out.push_back(d.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string Workspace::baseline_eval() const { return (fs::path(dir_) / "baseline" / kEvalFile).string(); }

std::string Workspace::probe_dir(bool from_aligned, const std::string& run) const {
  return (fs::path(dir_) / ((from_aligned ? "probe-aligned" : "probe") + (run.empty() ? "" : "-" + run))).string();
}

std::string Workspace::sensitivity_dir() const { return (fs::path(dir_) / "sensitivity").string(); }

std::vector<Workspace::Run> Workspace::runs() const {
  std::vector<Run> out;
  std::error_code ec;
  for (const fs::directory_entry& d : fs::directory_iterator(runs_dir(), ec)) {
    if (!d.is_directory(ec)) continue;
    Run run;
    run.dir = d.path().string();
    run.name = d.path().filename().string();
    try {
      run.record = read_run_record(run.dir);
    } catch (const Error&) {
      continue;  // a staging folder, or not a run
    }
    try {
      const std::vector<EvalReport> e = read_eval_json((d.path() / kEvalFile).string());
      if (e.size() == 1) run.eval = e.front();
    } catch (const Error&) {  // not evaluated (yet)
    }
    for (const fs::directory_entry& f : fs::recursive_directory_iterator(d.path() / "quant", ec))
      if (f.is_regular_file(ec)) run.quant_bytes += double(f.file_size(ec));
    out.push_back(std::move(run));
  }
  std::sort(out.begin(), out.end(), [](const Run& a, const Run& b) { return a.name < b.name; });
  return out;
}

std::vector<EvalReport> Workspace::baseline() const {
  try {
    return read_eval_json(baseline_eval());
  } catch (const Error&) {
    return {};
  }
}

}  // namespace sq
