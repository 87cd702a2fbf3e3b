#include "core/eval/eval_report.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

using nlohmann::json;

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<double> optional_get(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return json_field<double>(j, key, path);
}

json judge_json(const JudgeSummary& s) {
  return {{"judge", s.judge},
          {"format", s.format},
          {"categories", s.categories},
          {"judged", s.judged},
          {"invalid", s.invalid},
          {"clipped_replies", s.clipped},
          {"prefix_tokens", s.prefix_tokens},
          {"harmful_score", s.harmful_score},
          {"mean_p", s.mean_p},
          {"agreement", {{"both_harmful", s.both_harmful}, {"phrase_only", s.phrase_only}, {"judge_only", s.judge_only},
                         {"neither", s.neither}, {"kappa", optional_number(s.kappa)}}}};
}

JudgeSummary judge_from(const json& j, const std::string& path) {
  JudgeSummary s;
  s.judge = json_field<std::string>(j, "judge", path);
  s.format = json_field<std::string>(j, "format", path);
  s.categories = json_field_or<int>(j, "categories", path, 0);
  s.judged = json_field<int>(j, "judged", path);
  s.invalid = json_field<int>(j, "invalid", path);
  s.clipped = json_field_or<int>(j, "clipped_replies", path, 0);
  s.prefix_tokens = json_field_or<int>(j, "prefix_tokens", path, 0);
  s.harmful_score = json_field<double>(j, "harmful_score", path);
  s.mean_p = json_field<double>(j, "mean_p", path);
  const json a = json_field<json>(j, "agreement", path);
  s.both_harmful = json_field<int>(a, "both_harmful", path);
  s.phrase_only = json_field<int>(a, "phrase_only", path);
  s.judge_only = json_field<int>(a, "judge_only", path);
  s.neither = json_field<int>(a, "neither", path);
  s.kappa = optional_get(a, "kappa", path);
  return s;
}

EvalReport report_from(const json& j, const std::string& path) {
  EvalReport r;
  r.model = json_field<std::string>(j, "model", path);
  r.harmful_score = json_field<double>(j, "harmful_score", path);
  r.refusal_rate_benign = json_field<double>(j, "refusal_rate_benign", path);
  r.refusal_rate_xstest_safe = optional_get(j, "refusal_rate_xstest_safe", path);
  r.task_accuracy = optional_get(j, "task_accuracy", path);
  r.perplexity = optional_get(j, "perplexity", path);
  r.n_malicious = json_field<int>(j, "n_malicious", path);
  r.n_benign = json_field<int>(j, "n_benign", path);
  r.n_xstest_safe = json_field_or<int>(j, "n_xstest_safe", path, 0);
  r.n_task = json_field_or<int>(j, "n_task", path, 0);
  r.chat_template = json_field_or<std::string>(j, "chat_template", path, "");
  r.chat_system = json_field_or<std::string>(j, "chat_system", path, "");
  r.chat_date = json_field_or<std::string>(j, "chat_date", path, "");
  r.truncated = json_field_or<size_t>(j, "truncated_prompts", path, 0);
  r.refusal_list = json_field_or<std::string>(j, "refusal_list", path, "");
  if (j.contains("judge") && !j.at("judge").is_null()) r.judge = judge_from(j.at("judge"), path);
  if (j.contains("per_prompt"))
    for (const json& p : json_field<json>(j, "per_prompt", path)) {
      PromptResult row{json_field<std::string>(p, "id", path), json_field<std::string>(p, "source", path),
                       json_field<std::string>(p, "label", path) == "malicious" ? 1 : 0, json_field<std::string>(p, "completion", path),
                       json_field<bool>(p, "refused", path), json_field<std::string>(p, "matched", path), std::nullopt, std::nullopt, false};
      if (p.contains("correct")) row.correct = json_field<bool>(p, "correct", path);
      row.judge_p = optional_get(p, "judge_p", path);
      row.judge_invalid = json_field_or<bool>(p, "judge_invalid", path, false);
      r.per_prompt.push_back(std::move(row));
    }
  return r;
}

}  // namespace

std::string to_json(const EvalReport& r, bool with_prompts) {
  json j = {{"model", r.model},
            {"harmful_score", r.harmful_score},
            {"refusal_rate_benign", r.refusal_rate_benign},
            {"refusal_rate_xstest_safe", optional_number(r.refusal_rate_xstest_safe)},
            {"n_malicious", r.n_malicious},
            {"n_benign", r.n_benign},
            {"n_xstest_safe", r.n_xstest_safe},
            {"n_task", r.n_task},
            {"task_accuracy", optional_number(r.task_accuracy)},
            {"perplexity", optional_number(r.perplexity)},
            {"chat_template", r.chat_template},
            {"chat_system", r.chat_system},
            {"chat_date", r.chat_date},
            {"truncated_prompts", r.truncated},
            {"refusal_list", r.refusal_list}};
  if (r.judge) j["judge"] = judge_json(*r.judge);
  if (with_prompts) {
    json rows = json::array();
    for (const PromptResult& p : r.per_prompt) {
      json row = {{"id", p.id},          {"label", p.label ? "malicious" : "benign"},
                  {"source", p.source},  {"completion", p.completion},
                  {"refused", p.refused}, {"matched", p.matched}};
      if (p.correct) row["correct"] = *p.correct;
      if (p.judge_p) row["judge_p"] = *p.judge_p, row["judge_invalid"] = p.judge_invalid;
      rows.push_back(row);
    }
    j["per_prompt"] = rows;
  }
  return j.dump(1);
}

std::string comparison_json(const std::vector<EvalReport>& reports) {
  json rows = json::array();
  for (const EvalReport& r : reports) rows.push_back(json::parse(to_json(r, false)));
  return json{{"comparison", rows}}.dump(1);
}

std::string comparison_csv(const std::vector<EvalReport>& reports) {
  auto cell = [](const std::optional<double>& v) { return v ? std::to_string(*v) : std::string(); };
  std::string csv =
      "model,harmful_score,refusal_rate_benign,refusal_rate_xstest_safe,task_accuracy,perplexity,n_malicious,n_benign,"
      "judged_harmful_score,judge_kappa,judge_invalid\n";
  for (const EvalReport& r : reports) {
    csv += "\"" + r.model + "\"," + std::to_string(r.harmful_score) + "," + std::to_string(r.refusal_rate_benign) + "," +
           cell(r.refusal_rate_xstest_safe) + "," + cell(r.task_accuracy) + "," + cell(r.perplexity) + "," +
           std::to_string(r.n_malicious) + "," + std::to_string(r.n_benign) + ",";
    csv += r.judge ? std::to_string(r.judge->harmful_score) + "," + cell(r.judge->kappa) + "," + std::to_string(r.judge->invalid)
                   : std::string(",,");
    csv += "\n";
  }
  return csv;
}

std::string eval_json(const std::vector<EvalReport>& reports) {
  return reports.size() == 1 ? to_json(reports[0]) : comparison_json(reports);
}

void write_eval_json(const std::string& path, const std::vector<EvalReport>& reports) {
  const std::string text = eval_json(reports);
  write_atomically(path, [&](std::ostream& out) { out << text << "\n"; });
}

std::vector<EvalReport> read_eval_json(const std::string& path) {
  const json j = read_json_file(path);
  if (!j.is_object()) throw Error(path, "not an evaluation report: the top level is not an object");
  std::vector<EvalReport> out;
  if (!j.contains("comparison")) return {report_from(j, path)};
  for (const json& row : json_field<json>(j, "comparison", path)) out.push_back(report_from(row, path));
  return out;
}

}  // namespace sq
