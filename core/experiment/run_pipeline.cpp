#include "core/experiment/run_pipeline.h"

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/eval/evaluate.h"
#include "core/eval/judge.h"
#include "core/export/export.h"
#include "core/io/atomic_file.h"
#include "core/io/crash_point.h"
#include "core/io/json_file.h"
#include "core/io/staged_folder.h"
#include "core/model/model.h"
#include "core/run/resources.h"
#include "core/version.h"

namespace sq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void write_run_config(const std::string& dir, const RunConfig& c, const std::string& hash, bool complete, double seconds) {
  const json j = {{"safequant", SAFEQUANT_VERSION},
                  {"config_file", c.file},
                  {"hash", hash},
                  {"complete", complete},
                  {"seconds", seconds},
                  {"resolved", json::parse(resolved_config_json(c))}};
  write_atomically((fs::path(dir) / kRunConfigFile).string(), [&](std::ostream& s) { s << j.dump(2) << "\n"; });
}

}  // namespace

RunState read_run_state(const std::string& dir) {
  const json j = read_json_file_or_null((fs::path(dir) / kRunConfigFile).string());
  if (!j.is_object() || !j.contains("hash") || !j["hash"].is_string()) return {};
  const json seconds = j.value("seconds", json());
  return {j["hash"].get<std::string>(), j.value("complete", false), seconds.is_number() ? seconds.get<double>() : 0};
}

RunOutcome run_pipeline(const RunConfig& c, const std::string& out_arg, bool replace, const Progress& progress,
                        ComputeDevice device) {
  const auto t0 = std::chrono::steady_clock::now();
  RunOutcome r;
  r.dir = !out_arg.empty() ? fs::absolute(out_arg).lexically_normal().string() : c.out;
  if (r.dir.empty()) throw ConfigError(c.file, "names no run folder: give \"out\" or --out");
  r.hash = run_config_hash(c);
  const RunState before = read_run_state(r.dir);
  if (before.hash == r.hash && before.complete) {
    r.reused = true;
    const fs::path eval = fs::path(r.dir) / "eval.json";
    if (fs::exists(eval)) r.eval = read_eval_json(eval.string()).front();
    for (const std::string& f : c.exports) r.exports.push_back((fs::path(r.dir) / "exports" / f).string());
    return r;
  }
  // A judge with nothing to judge is found out before the quantization, not after it.
  if (!c.judge.empty() && !c.evaluation.empty()) check_judgeable(load_prompt_files(c.evaluation), c.file);
  std::vector<std::string> inputs = {c.model, c.aligned, c.base, c.quantize.teacher_dir, c.quantize.probes_dir};
  inputs.insert(inputs.end(), c.calibration.begin(), c.calibration.end());
  inputs.insert(inputs.end(), c.evaluation.begin(), c.evaluation.end());
  // The same config's unfinished run is this run's to redo.
  std::optional<StagedFolder> folder;
  try {
    folder.emplace(r.dir, OutputKind::Run, replace || before.hash == r.hash, inputs);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  const fs::path staging = folder->path();

  QuantizeOptions q = c.quantize;
  q.device = device;
  if (info(q.method).calibrated) q.prompts = load_prompt_files(c.calibration);
  q.progress = progress;
  r.notes = quantize_model(c.model, q, (staging / "quant").string()).notes;
  if (!c.evaluation.empty()) {
    EvalOptions e;
    e.max_new_tokens = c.max_new_tokens;
    e.truncate = c.truncate;
    e.chat = q.chat;
    e.progress = progress;
    const auto model = Model::load(c.model, (staging / "quant").string(), false, device);
    const std::vector<Prompt> prompts = load_prompt_files(c.evaluation);
    EvalReport report = evaluate(*model, prompts, RefusalMatcher::shipped_default(), e);
    if (!c.judge.empty()) {
      JudgeRunOptions jo;
      jo.progress = progress;
      Judge(c.judge, parse_judge_format(c.judge_format), device).judge_report(report, prompts, jo);
    }
    report.model = c.model + " @ " + (fs::path(r.dir) / "quant").string();
    report.refusal_list = kDefaultRefusalList;
    write_eval_json((staging / "eval.json").string(), {report});
    r.eval = std::move(report);
  }
  write_run_config(staging.string(), c, r.hash, c.exports.empty(), 0);
  crash_point("run: quantized and evaluated, before the folder moves into place");
  folder->commit();
  // Exported from the run in its final place, so that each manifest names it.
  for (const std::string& format : c.exports) {
    ExportOptions x;
    x.model_dir = c.model;
    x.quant_run = (fs::path(r.dir) / "quant").string();
    x.format = format;
    x.out = (fs::path(r.dir) / "exports" / format).string();
    x.replace = true;  // an unfinished run's own export
    x.progress = progress;
    fs::create_directories(fs::path(x.out).parent_path());
    r.exports.push_back(export_model(x).out);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_run_config(r.dir, c, r.hash, true, r.seconds);
  return r;
}

}  // namespace sq
