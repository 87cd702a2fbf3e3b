#pragma once
// The verdict of an experiment: harmful score, over-refusal (benign and XSTest-safe apart),
// perplexity on benign text and task accuracy, with every prompt's completion kept. Plain C++:
// the CLI and the GUI call it alike.
#include <optional>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/eval/eval_report.h"
#include "core/eval/refusal.h"
#include "core/model/model.h"
#include "core/run/progress.h"

namespace sq {

struct EvalOptions {
  int max_new_tokens = 48;
  int batch_size = 8;
  ChatSettings chat;  // the model's chat template by default
  bool perplexity = true;
  // Prompts that with max_new_tokens exceed the model's context keep their last tokens (the
  // perplexity texts their first); otherwise they are refused, naming the model.
  bool truncate = false;
  Steering steering;  // applied while generating (perplexity is the model's own)
  Progress progress;
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

}  // namespace sq
