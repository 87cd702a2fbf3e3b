#include "core/experiment/run_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "core/eval/judge_prompt.h"
#include "core/export/export.h"
#include "core/io/json_file.h"
#include "core/run/threads.h"
#include "core/io/sha256.h"

namespace sq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Reads one config object key by key, refusing what it does not know.
class Reader {
 public:
  Reader(const json& j, std::string file, std::string prefix) : j_(j), file_(std::move(file)), prefix_(std::move(prefix)) {}

  // Every key must be one of `known`.
  void only(const std::vector<std::string>& known) const {
    for (const auto& [key, value] : j_.items())
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
        fail(key, "is not a key here (known: " + list + ")");
      }
  }
  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  std::string text(const char* key, const std::string& fallback = {}) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_string() || j_.at(key).get<std::string>().empty()) fail(key, "must be a non-empty string");
    return j_.at(key).get<std::string>();
  }
  double number(const char* key, double fallback, double lo, double hi) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_number()) fail(key, "must be a number");
    const double v = j_.at(key).get<double>();
    if (!(v >= lo && v <= hi)) fail(key, "must be between " + show(lo) + " and " + show(hi) + ", not " + show(v));
    return v;
  }
  int64_t integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_number_integer()) fail(key, "must be a whole number");
    const int64_t v = j_.at(key).get<int64_t>();
    if (v < lo || v > hi) fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " + std::to_string(v));
    return v;
  }
  bool flag(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_boolean()) fail(key, "must be true or false");
    return j_.at(key).get<bool>();
  }
  std::vector<std::string> texts(const char* key) const {
    if (!has(key)) return {};
    const json& v = j_.at(key);
    if (v.is_string()) return {text(key)};
    if (!v.is_array()) fail(key, "must be a string or a list of strings");
    std::vector<std::string> out;
    for (const json& e : v) {
      if (!e.is_string() || e.get<std::string>().empty()) fail(key, "must hold non-empty strings only");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  Reader object(const char* key) const {
    static const json empty = json::object();
    if (!has(key)) return Reader(empty, file_, prefix_ + key + ".");
    if (!j_.at(key).is_object()) fail(key, "must be an object");
    return Reader(j_.at(key), file_, prefix_ + key + ".");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ConfigError(file_, "\"" + prefix_ + key + "\" " + problem);
  }

 private:
  static std::string show(double v) {
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  const json& j_;
  std::string file_, prefix_;
};

fs::path resolve(const std::string& value, const fs::path& base) { return config_path(value, base.string()); }

// An input the config names, absolute, and checked to exist before any work.
std::string input(const Reader& r, const char* key, const std::string& value, const fs::path& base, bool folder) {
  const fs::path p = resolve(value, base);
  std::error_code ec;
  if (folder ? !fs::is_directory(p, ec) : !fs::is_regular_file(p, ec))
    r.fail(key, "names " + p.string() + (folder ? ", which is not a folder" : ", which is not a file"));
  return p.string();
}

}  // namespace

RunConfig read_run_config(const std::string& path) {
  json j;
  try {
    j = read_json_file(path);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  return parse_run_config(j, path, fs::absolute(path).parent_path().string());
}

RunConfig parse_run_config(const nlohmann::json& j, const std::string& path, const std::string& base_dir) {
  if (!j.is_object()) throw ConfigError(path, "a run config is a JSON object");
  const Reader r(j, path, "");
  r.only({"model", "aligned", "base", "calibration", "evaluation", "method", "scheme", "ratio", "samples", "seed", "system",
          "chat_date", "options", "eval", "exports", "out"});
  const fs::path base = base_dir;
  RunConfig c;
  c.file = path;
  if (!r.has("model")) r.fail("model", "is required: the model folder to quantize");
  c.model = input(r, "model", r.text("model"), base, true);
  if (!r.has("method")) r.fail("method", "is required (" + quant_method_names() + ")");
  QuantMethod method = QuantMethod::Rtn;
  try {
    method = parse_quant_method(r.text("method"));
  } catch (const Error&) {
    r.fail("method", "must be " + quant_method_names());
  }
  const QuantMethodInfo& m = info(method);
  QuantizeOptions& q = c.quantize;
  q = QuantizeOptions::for_method(method);
  if (!r.has("scheme")) r.fail("scheme", "is required, for example \"w8a8\" or \"w4a4\"");
  try {
    q.scheme = parse_scheme(r.text("scheme"));
  } catch (const Error& e) {
    r.fail("scheme", std::string("is not a scheme: ") + e.what());
  }
  q.ratio = r.number("ratio", q.ratio, 0, 1);
  q.samples = int(r.integer("samples", q.samples, 1, 1000000));
  q.seed = uint64_t(r.integer("seed", int64_t(q.seed), 0, int64_t(1) << 53));
  // How calibration and evaluation prompts are rendered: the model's own template with this
  // system message, and strftime_now reading this date (default: the day the run is made,
  // which run.json and eval.json record).
  q.chat.system = r.text("system", "");
  if (r.has("system") && q.chat.system.empty()) r.fail("system", "is empty: leave it out for no system message");
  if (r.has("chat_date")) {
    try {
      q.chat.date = chat_date_or_today(r.text("chat_date"), "chat_date");
    } catch (const Error& e) {
      r.fail("chat_date", std::string("must be a date of the form YYYY-MM-DD (") + e.what() + ")");
    }
  }
  if (r.has("aligned")) c.aligned = input(r, "aligned", r.text("aligned"), base, true);
  if (r.has("base")) c.base = input(r, "base", r.text("base"), base, true);
  if (m.needs_aligned && c.aligned.empty() && !r.object("options").has("probes"))
    r.fail("aligned", "is required by " + std::string(m.name) + ": the aligned model whose probes it follows");
  if (m.needs_base && c.base.empty()) r.fail("base", "is required by " + std::string(m.name) + ": the unaligned base model");
  // A method that does not use the aligned or the base model ignores it, so that one config
  // (and one sweep over methods) can name both; the resolved config and its hash leave it out.
  if (!m.needs_aligned) c.aligned.clear();
  if (!m.needs_base) c.base.clear();
  q.aligned_dir = c.aligned;
  q.base_dir = c.base;
  for (const std::string& f : r.texts("calibration")) c.calibration.push_back(input(r, "calibration", f, base, false));
  if (m.calibrated && c.calibration.empty()) r.fail("calibration", "is required by " + std::string(m.name) + ": calibration prompt files");
  for (const std::string& f : r.texts("evaluation")) c.evaluation.push_back(input(r, "evaluation", f, base, false));

  const Reader o = r.object("options");
  o.only({"epochs", "lr", "lambda", "top_k", "rotate", "smooth", "seq_len", "batch_size", "damp", "act_order", "hessian_f64", "paper_epochs",
          "block_target", "random_probes", "teacher", "probes", "threads"});
  q.epochs = int(o.integer("epochs", q.epochs, 1, 100000));
  q.lr = o.number("lr", q.lr, 0, 10);
  if (q.lr <= 0) o.fail("lr", "must be positive");
  q.lambda = o.number("lambda", q.lambda, 0, 1e6);
  q.top_k = int(o.integer("top_k", q.top_k, 1, 1 << 20));
  q.rotate = o.flag("rotate", q.rotate);
  q.smooth = o.flag("smooth", q.smooth);
  q.seq_len = int(o.integer("seq_len", q.seq_len, 1, 1 << 20));
  q.batch_size = int(o.integer("batch_size", q.batch_size, 1, 1 << 16));
  q.damp = o.number("damp", q.damp, 0, 1e3);
  // The threads a run's results depend on, fixed when the config is resolved (a sweep's configs
  // on the machine that prepares it), so that a cluster task given fewer CPUs computes the same.
  q.threads = int(o.integer("threads", every_core_count(), 1, 4096));
  q.act_order = o.flag("act_order", q.act_order);
  q.hessian_f64 = o.flag("hessian_f64", q.hessian_f64);
  q.paper_epochs = o.flag("paper_epochs", q.paper_epochs);
  const std::string target = o.text("block_target", "fp");
  if (target != "fp" && target != "quantized-inputs") o.fail("block_target", "must be \"fp\" or \"quantized-inputs\"");
  q.fp_targets = target == "fp";
  q.random_probes = o.flag("random_probes", q.random_probes);
  if (q.random_probes && !m.needs_aligned) o.fail("random_probes", "is a control for q-realign");
  if (o.has("teacher")) {
    if (!m.needs_base) o.fail("teacher", "is aaq's");
    q.teacher_dir = input(o, "teacher", o.text("teacher"), base, true);
  }
  if (o.has("probes")) {
    if (!m.needs_aligned) o.fail("probes", "are q-realign's");
    q.probes_dir = input(o, "probes", o.text("probes"), base, true);
  }

  const Reader e = r.object("eval");
  e.only({"max_new_tokens", "truncate", "judge", "judge_format"});
  c.max_new_tokens = int(e.integer("max_new_tokens", c.max_new_tokens, 1, 1 << 16));
  c.truncate = e.flag("truncate", c.truncate);
  if (e.has("judge")) {
    c.judge = input(e, "judge", e.text("judge"), base, true);
    c.judge_format = e.has("judge_format") ? e.text("judge_format") : "llama-guard-3";
    try {
      parse_judge_format(c.judge_format);
    } catch (const Error& err) {
      e.fail("judge_format", err.what());
    }
  } else if (e.has("judge_format")) {
    e.fail("judge_format", "goes with \"judge\", the judge's folder");
  }
  if (r.has("eval") && c.evaluation.empty()) r.fail("eval", "has settings but \"evaluation\" names no prompt files");

  for (const std::string& f : r.texts("exports")) {
    const auto& known = export_formats();
    if (std::find(known.begin(), known.end(), f) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      r.fail("exports", "holds \"" + f + "\", not an export format (" + list + ")");
    }
    if (std::find(c.exports.begin(), c.exports.end(), f) != c.exports.end()) r.fail("exports", "names \"" + f + "\" twice");
    c.exports.push_back(f);
  }
  if (r.has("out")) c.out = resolve(r.text("out"), base).string();
  return c;
}

fs::path config_path(const std::string& value, const std::string& config_dir) {
  const char* home = std::getenv("HOME");
  if (value.rfind("~/", 0) == 0 && home && *home) return (fs::path(home) / value.substr(2)).lexically_normal();
  return fs::absolute(fs::path(config_dir) / value).lexically_normal();
}

std::string resolved_config_json(const RunConfig& c) {
  const QuantizeOptions& q = c.quantize;
  json j = {{"model", c.model},
            {"aligned", c.aligned.empty() ? json() : json(c.aligned)},
            {"base", c.base.empty() ? json() : json(c.base)},
            {"calibration", c.calibration},
            {"evaluation", c.evaluation},
            {"method", info(q.method).name},
            {"scheme", q.scheme.name},
            {"ratio", q.ratio},
            {"samples", q.samples},
            {"seed", q.seed},
            {"options",
             {{"epochs", q.epochs},
              {"lr", q.lr},
              {"lambda", q.lambda},
              {"top_k", q.top_k},
              {"rotate", q.rotate},
              {"smooth", q.smooth},
              {"seq_len", q.seq_len},
              {"batch_size", q.batch_size},
              {"damp", q.damp},
              {"threads", q.threads},
              {"act_order", q.act_order},
              {"hessian_f64", q.hessian_f64},
              {"paper_epochs", q.paper_epochs},
              {"block_target", q.fp_targets ? "fp" : "quantized-inputs"},
              {"random_probes", q.random_probes},
              {"teacher", q.teacher_dir.empty() ? json() : json(q.teacher_dir)},
              {"probes", q.probes_dir.empty() ? json() : json(q.probes_dir)}}},
            {"exports", c.exports}};
  // Only beside prompts to evaluate: the reader refuses eval settings without them, and the
  // resolved form must read back (a sweep's runs are made from it).
  if (!c.evaluation.empty()) j["eval"] = {{"max_new_tokens", c.max_new_tokens}, {"truncate", c.truncate}};
  // Only when set, as below.
  if (!c.judge.empty()) j["eval"]["judge"] = c.judge, j["eval"]["judge_format"] = c.judge_format;
  if (!c.out.empty()) j["out"] = c.out;
  // Only when set, so that the configs of runs made before they existed keep their hash.
  if (!q.chat.system.empty()) j["system"] = q.chat.system;
  if (!q.chat.date.empty()) j["chat_date"] = q.chat.date;
  return j.dump(2);
}

std::string run_config_hash(const RunConfig& c) {
  RunConfig without_out = c;  // where a run is written is not what it computes
  without_out.out.clear();
  std::string identity = resolved_config_json(without_out) + "\nquantizer revision " + std::to_string(kQuantizerRevision);
  for (const std::vector<std::string>* files : {&c.calibration, &c.evaluation})
    for (const std::string& f : *files) identity += "\n" + f + " " + sha256_file(f);
  // Model folders are large: their files' sizes and modification times stand for their content.
  for (const std::string& dir : {c.model, c.aligned, c.base, c.quantize.teacher_dir, c.quantize.probes_dir, c.judge}) {
    if (dir.empty()) continue;
    std::map<std::string, std::string> files;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file(ec))
        files[e.path().filename().string()] =
            std::to_string(e.file_size(ec)) + " " + std::to_string(e.last_write_time(ec).time_since_epoch().count());
    for (const auto& [name, id] : files) identity += "\n" + dir + "/" + name + " " + id;
  }
  return sha256_hex(identity);
}

}  // namespace sq
