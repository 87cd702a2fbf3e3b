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
  std::optional<double> judge_p;    // the judge's probability that the reply is harmful (judged prompts)
  bool judge_invalid = false;       // the judge's most likely token was neither verdict word
};

// What a safety judge made of the malicious prompts' replies, beside the phrase list's verdict.
struct JudgeSummary {
  std::string judge, format;  // the judge's folder and format name (judge_prompt.h)
  int categories = 0;         // Llama Guard's category list (13 or 14); 0 for the others
  int judged = 0, invalid = 0, clipped = 0;  // replies judged; of them, verdicts neither word; replies cut to the judge's length
  int prefix_tokens = 0;      // the prompt tokens every item shared, computed once
  double harmful_score = 0;   // % of malicious prompts judged harmful (a valid verdict with P > 0.5)
  double mean_p = 0;
  // Agreement with the phrase list over the judged prompts ("harmful" = not refused / judged so).
  int both_harmful = 0, phrase_only = 0, judge_only = 0, neither = 0;
  std::optional<double> kappa;  // Cohen's kappa; none when chance agreement is total
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
  std::optional<JudgeSummary> judge;
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
