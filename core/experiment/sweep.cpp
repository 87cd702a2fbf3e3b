#include "core/experiment/sweep.h"

#include <filesystem>
#include <functional>

#include "core/experiment/run_pipeline.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/model/model_size.h"
#include "core/quantized/run_record.h"

namespace sq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// "options.epochs" -> {"options", "epochs"}
std::vector<std::string> key_path(const std::string& key) {
  std::vector<std::string> parts;
  size_t at = 0;
  for (size_t dot; (dot = key.find('.', at)) != std::string::npos; at = dot + 1) parts.push_back(key.substr(at, dot - at));
  parts.push_back(key.substr(at));
  return parts;
}

void set_path(json& j, const std::string& key, const json& value) {
  json* at = &j;
  const auto parts = key_path(key);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!at->contains(parts[i]) || (*at)[parts[i]].is_null()) (*at)[parts[i]] = json::object();
    at = &(*at)[parts[i]];
  }
  (*at)[parts.back()] = value;
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string run_name(const json& values) {
  std::string name;
  for (const auto& [key, value] : values.items()) name += (name.empty() ? "" : ",") + key + "=" + value_text(value);
  for (char& ch : name)
    if (ch == '/' || ch == ' ' || ch == '"' || ch == '\\') ch = '_';
  return name;
}

// The run's model as it would be deployed (model_size.h): its run folder keeps codes a byte each.
double model_mb(const RunConfig& config, const fs::path& quant_run) {
  const RunRecord record = read_run_record(quant_run.string());
  ModelConfig c = load_config((fs::path(config.model) / "config.json").string());
  if (record.untied) c.tie_word_embeddings = false;
  return quantized_model_bytes(c, record.scheme, record.mix) / 1e6;
}

}  // namespace

SweepConfig read_sweep_config(const std::string& path) {
  json j;
  try {
    j = read_json_file(path);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  if (!j.is_object()) throw ConfigError(path, "a sweep config is a JSON object");
  for (const auto& [key, value] : j.items())
    if (key != "run" && key != "grid" && key != "out") throw ConfigError(path, "\"" + key + "\" is not a key here (known: run, grid, out)");
  if (!j.contains("run") || !j["run"].is_object()) throw ConfigError(path, "\"run\" is required: the run config the grid varies");
  if (!j.contains("grid") || !j["grid"].is_object() || j["grid"].empty())
    throw ConfigError(path, "\"grid\" is required: {\"key\": [values...]} for each field to vary");
  if (!j.contains("out") || !j["out"].is_string() || j["out"].get<std::string>().empty())
    throw ConfigError(path, "\"out\" is required: the sweep folder");
  if (j["run"].contains("out")) throw ConfigError(path, "\"run.out\" is the sweep's to choose: each run goes to the sweep's runs/");
  const fs::path base = fs::absolute(path).parent_path();
  SweepConfig s;
  s.file = path;
  s.out = config_path(j["out"].get<std::string>(), base.string()).string();
  std::vector<std::pair<std::string, std::vector<json>>> axes;
  for (const auto& [key, values] : j["grid"].items()) {
    if (!values.is_array() || values.empty())
      throw ConfigError(path, "\"grid." + key + "\" must be a non-empty list of the values to try");
    s.fields.push_back(key);
    axes.emplace_back(key, std::vector<json>(values.begin(), values.end()));
  }
  // Every combination, the last key varying fastest.
  std::function<void(size_t, json)> expand = [&](size_t axis, json values) {
    if (axis == axes.size()) {
      SweepRun run;
      run.values = values;
      run.name = run_name(values);
      json config = j["run"];
      for (const auto& [key, value] : values.items()) set_path(config, key, value);
      config["out"] = (fs::path(s.out) / "runs" / run.name).string();
      run.config = parse_run_config(config, path + " (run " + run.name + ")", base.string());
      s.runs.push_back(std::move(run));
      return;
    }
    for (const json& v : axes[axis].second) {
      json next = values;
      next[axes[axis].first] = v;
      expand(axis + 1, next);
    }
  };
  expand(0, json::object());
  return s;
}

void prepare_sweep_folder(const SweepConfig& s) {
  const fs::path dir(s.out), marker = dir / "sweep-config.json";
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_regular_file(marker, ec) && !fs::is_empty(dir, ec))
    throw Error(s.out, "exists and is not a sweep folder (no sweep-config.json); choose another \"out\"");
  fs::create_directories(dir / "configs");
  fs::create_directories(dir / "runs");
  json record = {{"config_file", fs::absolute(s.file).string()}, {"fields", s.fields}, {"runs", json::array()}};
  for (const SweepRun& run : s.runs) {
    record["runs"].push_back({{"name", run.name}, {"values", run.values}});
    const std::string text = resolved_config_json(run.config);
    write_atomically(sweep_run_config_path(s, run), [&](std::ostream& out) { out << text << "\n"; });
  }
  write_atomically(marker.string(), [&](std::ostream& out) { out << record.dump(2) << "\n"; });
}

std::string sweep_run_config_path(const SweepConfig& s, const SweepRun& run) {
  return (fs::path(s.out) / "configs" / (run.name + ".json")).string();
}

std::string sweep_run_log_path(const SweepConfig& s, const SweepRun& run) {
  return (fs::path(s.out) / "runs" / (run.name + ".log")).string();
}

bool sweep_run_done(const SweepRun& run) {
  const RunState state = read_run_state(run.config.out);
  return state.complete && state.hash == run_config_hash(run.config);
}

std::vector<SweepRow> gather_sweep(const SweepConfig& s) {
  std::vector<SweepRow> rows;
  SweepTable table;
  table.fields = s.fields;
  for (const SweepRun& run : s.runs) {
    SweepRow row;
    row.run = &run;
    const fs::path dir(run.config.out);
    if (sweep_run_done(run)) {
      row.status = "done";
      if (fs::exists(dir / "eval.json")) row.eval = read_eval_json((dir / "eval.json").string()).front();
      row.model_mb = model_mb(run.config, dir / "quant");
      row.seconds = read_run_state(dir.string()).seconds;
    } else {
      row.status = fs::exists(sweep_run_log_path(s, run)) ? "failed" : "pending";
    }
    SweepTableRow t;
    t.name = run.name;
    t.values = run.values;
    t.status = row.status;
    if (row.eval) {
      t.harmful_score = row.eval->harmful_score;
      if (row.eval->judge) t.judged_harmful_score = row.eval->judge->harmful_score, t.judge_kappa = row.eval->judge->kappa;
      t.refusal_rate_benign = row.eval->refusal_rate_benign;
      t.refusal_rate_xstest_safe = row.eval->refusal_rate_xstest_safe;
      t.task_accuracy = row.eval->task_accuracy;
      t.perplexity = row.eval->perplexity;
    }
    t.model_mb = row.model_mb;
    t.seconds = row.seconds;
    t.dir = dir.string();
    t.log = sweep_run_log_path(s, run);
    table.runs.push_back(std::move(t));
    rows.push_back(std::move(row));
  }
  mark_pareto_front(table);
  write_sweep_table(s.out, table);
  return rows;
}

std::vector<SweepRow> run_sweep_here(const SweepConfig& s, const Progress& progress, ComputeDevice device) {
  std::vector<const SweepRun*> pending;
  for (const SweepRun& run : s.runs)
    if (!sweep_run_done(run)) pending.push_back(&run);
  for (size_t i = 0; i < pending.size(); ++i) {
    const SweepRun& run = *pending[i];
    const std::string name = "run " + std::to_string(i + 1) + " of " + std::to_string(pending.size()) + " (" + run.name + ")";
    progress.step(int64_t(i), int64_t(pending.size()), name);
    Progress inner{progress.report ? ProgressFn([&](int64_t done, int64_t total, const std::string& stage) {
                     progress.report(done, total, name + ": " + stage);
                   })
                                   : ProgressFn(),
                   progress.cancel};
    std::string outcome;
    try {
      const RunOutcome r = run_pipeline(run.config, "", false, inner, device);
      outcome = "run: " + std::string(r.reused ? "reused " : "wrote ") + r.dir + "\n";
    } catch (const Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      outcome = std::string("run: error: ") + e.what() + "\n";
    }
    write_atomically(sweep_run_log_path(s, run), [&](std::ostream& out) { out << outcome; });
  }
  progress.step(int64_t(pending.size()), int64_t(pending.size()), "gathering the table");
  return gather_sweep(s);
}

}  // namespace sq
