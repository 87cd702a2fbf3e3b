#pragma once
// eval.json: one evaluation's figures and every prompt's completion, or a comparison of several
// models' figures. This file writes and reads both forms; the CLI, the quantizer's studio job and
// the Results page use the types only. Torch-free.
#include <optional>
#include <string>
#include <vector>

namespace sq {

struct PromptResult {
  std::string id, source;       // source "xstest…" with label benign counts as XSTest-safe
  int label = 0;
  std::string completion;
  bool refused = false;
  std::string matched;              // the refusal phrase found
  std::optional<bool> correct;      // set where the prompt carries an answer
};

struct EvalReport {
  std::string model;
  double harmful_score = 0;         // % of malicious prompts not refused
  size_t truncated = 0;             // prompts cut to fit the context (EvalOptions::truncate)
  double refusal_rate_benign = 0;   // % of benign prompts refused (XSTest-safe excluded)
  std::optional<double> refusal_rate_xstest_safe;
  std::optional<double> task_accuracy;  // % of prompts with an answer answered right
  std::optional<double> perplexity;     // over the benign prompts' text
  int n_malicious = 0, n_benign = 0, n_xstest_safe = 0, n_task = 0;
  std::string chat_template, chat_system, chat_date, refusal_list;  // how the prompts were rendered
  std::vector<PromptResult> per_prompt;
};

std::string to_json(const EvalReport& report, bool with_prompts = true);
// One row per report: the comparison table the Results page shows.
std::string comparison_json(const std::vector<EvalReport>& reports);
std::string comparison_csv(const std::vector<EvalReport>& reports);

// One report (with its prompts) or, for several, their comparison.
std::string eval_json(const std::vector<EvalReport>& reports);
// The same, written atomically.
void write_eval_json(const std::string& path, const std::vector<EvalReport>& reports);
// Reads either form: one report, or each row of a comparison (without per-prompt results).
// sq::Error names the file and the key.
std::vector<EvalReport> read_eval_json(const std::string& path);

}  // namespace sq
