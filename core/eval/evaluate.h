#pragma once
// The verdict of an experiment: harmful score, over-refusal (benign and XSTest-safe apart),
// perplexity on benign text and task accuracy, with every prompt's completion kept. Plain C++:
// the CLI and the GUI call it alike.
#include <optional>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/eval/refusal.h"
#include "core/model/model.h"
#include "core/run/progress.h"

namespace sq {

struct EvalOptions {
  int max_new_tokens = 48;
  int batch_size = 8;
  bool chat = true;
  bool perplexity = true;
  // Prompts that with max_new_tokens exceed the model's context keep their last tokens (the
  // perplexity texts their first); otherwise they are refused, naming the model.
  bool truncate = false;
  Steering steering;  // applied while generating (perplexity is the model's own)
  Progress progress;
};

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
  std::string chat_template, refusal_list;
  std::vector<PromptResult> per_prompt;
};

EvalReport evaluate(const Model& model, const std::vector<Prompt>& prompts, const RefusalMatcher& refusals,
                    const EvalOptions& options);

// % of the report's prompts refused, whatever their label (0 for none).
double refusal_rate(const EvalReport& report);

// The figures of a report from its per-prompt results (the arithmetic of evaluate()).
void summarize(EvalReport& report);

// The answer check: numbers compare by value (the last number in the completion), anything else
// by exact match after trimming and case folding.
bool answer_matches(const std::string& completion, const std::string& answer);

std::string to_json(const EvalReport& report, bool with_prompts = true);
// One row per report: the comparison table the Results page shows.
std::string comparison_json(const std::vector<EvalReport>& reports);
std::string comparison_csv(const std::vector<EvalReport>& reports);

}  // namespace sq
