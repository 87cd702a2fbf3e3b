#include "core/experiment/sweep_table.h"

#include <filesystem>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(); }

std::optional<double> read_optional(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return json_field<double>(j, key, path);
}

std::string csv_cell(const json& v) { return v.is_null() ? std::string() : v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::optional<double> sweep_utility(const SweepTableRow& r) {
  if (r.task_accuracy) return r.task_accuracy;
  if (r.refusal_rate_benign) return 100.0 - *r.refusal_rate_benign;
  return std::nullopt;
}

std::string sweep_utility_name(const SweepTable& t) {
  for (const SweepTableRow& r : t.runs)
    if (r.task_accuracy) return "task accuracy (%)";
  return "benign prompts answered (%)";
}

std::optional<double> sweep_harmful(const SweepTableRow& r) { return r.judged_harmful_score ? r.judged_harmful_score : r.harmful_score; }

void mark_pareto_front(SweepTable& t) {
  struct Point {
    double harmful, utility, benign, xstest, size;
  };
  std::vector<std::optional<Point>> points;
  for (const SweepTableRow& r : t.runs) {
    const std::optional<double> u = sweep_utility(r);
    // A sweep evaluates every run on the same sets, so a figure none has counts alike for all.
    const std::optional<double> harmful = sweep_harmful(r);
    points.push_back(r.status == "done" && harmful && u
                         ? std::optional<Point>(Point{*harmful, *u, r.refusal_rate_benign.value_or(0),
                                                      r.refusal_rate_xstest_safe.value_or(0), r.model_mb})
                         : std::nullopt);
  }
  for (size_t i = 0; i < t.runs.size(); ++i) {
    t.runs[i].pareto = false;
    if (!points[i]) continue;
    const Point& p = *points[i];
    bool dominated = false;
    for (size_t j = 0; j < t.runs.size() && !dominated; ++j) {
      if (j == i || !points[j]) continue;
      const Point& q = *points[j];
      const bool no_worse = q.harmful <= p.harmful && q.utility >= p.utility && q.benign <= p.benign && q.xstest <= p.xstest &&
                            q.size <= p.size;
      const bool better =
          q.harmful < p.harmful || q.utility > p.utility || q.benign < p.benign || q.xstest < p.xstest || q.size < p.size;
      dominated = no_worse && better;
    }
    t.runs[i].pareto = !dominated;
  }
}

void write_sweep_table(const std::string& dir, const SweepTable& t) {
  json runs = json::array();
  std::string csv;
  for (const std::string& f : t.fields) csv += f + ",";
  csv += "status,harmful_score,judged_harmful_score,judge_kappa,refusal_rate_benign,refusal_rate_xstest_safe,task_accuracy,perplexity,"
         "model_mb,seconds,pareto,dir\n";
  for (const SweepTableRow& r : t.runs) {
    json entry = r.values;
    entry["name"] = r.name;
    entry["status"] = r.status;
    entry["harmful_score"] = optional_number(r.harmful_score);
    entry["judged_harmful_score"] = optional_number(r.judged_harmful_score);
    entry["judge_kappa"] = optional_number(r.judge_kappa);
    entry["refusal_rate_benign"] = optional_number(r.refusal_rate_benign);
    entry["refusal_rate_xstest_safe"] = optional_number(r.refusal_rate_xstest_safe);
    entry["task_accuracy"] = optional_number(r.task_accuracy);
    entry["perplexity"] = optional_number(r.perplexity);
    entry["model_mb"] = r.model_mb;
    entry["seconds"] = r.seconds;
    entry["pareto"] = r.pareto;
    entry["dir"] = r.dir;
    entry["log"] = r.log;
    runs.push_back(entry);
    for (const std::string& f : t.fields) csv += "\"" + csv_cell(r.values.value(f, json())) + "\",";
    csv += r.status + "," + csv_cell(entry["harmful_score"]) + "," + csv_cell(entry["judged_harmful_score"]) + "," +
           csv_cell(entry["judge_kappa"]) + "," + csv_cell(entry["refusal_rate_benign"]) + "," +
           csv_cell(entry["refusal_rate_xstest_safe"]) + "," + csv_cell(entry["task_accuracy"]) + "," + csv_cell(entry["perplexity"]) + "," + csv_cell(entry["model_mb"]) + "," +
           csv_cell(entry["seconds"]) + "," + (r.pareto ? "1" : "0") + ",\"" + r.dir + "\"\n";
  }
  write_atomically((fs::path(dir) / "sweep.json").string(),
                   [&](std::ostream& out) { out << json{{"fields", t.fields}, {"runs", runs}}.dump(2) << "\n"; });
  write_atomically((fs::path(dir) / "sweep.csv").string(), [&](std::ostream& out) { out << csv; });
}

SweepTable read_sweep_table(const std::string& dir) {
  const std::string path = (fs::path(dir) / "sweep.json").string();
  const json j = read_json_file(path);
  SweepTable t;
  t.fields = json_field<std::vector<std::string>>(j, "fields", path);
  const json runs = json_field<json>(j, "runs", path);
  if (!runs.is_array()) throw Error(path, "\"runs\" is not a list");
  for (const json& e : runs) {
    if (!e.is_object()) throw Error(path, "a run is not an object");
    SweepTableRow r;
    r.name = json_field<std::string>(e, "name", path);
    r.values = json::object();
    for (const std::string& f : t.fields) r.values[f] = e.value(f, json());
    r.status = json_field<std::string>(e, "status", path);
    r.harmful_score = read_optional(e, "harmful_score", path);
    r.judged_harmful_score = read_optional(e, "judged_harmful_score", path);
    r.judge_kappa = read_optional(e, "judge_kappa", path);
    r.refusal_rate_benign = read_optional(e, "refusal_rate_benign", path);
    r.refusal_rate_xstest_safe = read_optional(e, "refusal_rate_xstest_safe", path);
    r.task_accuracy = read_optional(e, "task_accuracy", path);
    r.perplexity = read_optional(e, "perplexity", path);
    r.model_mb = json_field<double>(e, "model_mb", path);
    r.seconds = json_field<double>(e, "seconds", path);
    r.pareto = json_field<bool>(e, "pareto", path);
    r.dir = json_field<std::string>(e, "dir", path);
    r.log = json_field<std::string>(e, "log", path);
    t.runs.push_back(std::move(r));
  }
  return t;
}

}  // namespace sq
