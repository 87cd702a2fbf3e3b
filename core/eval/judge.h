#pragma once
// A safety judge on the same engine as the model under test: a Llama Guard 3 or HarmBench
// classifier folder reads each malicious request with the model's reply, and its probability of
// the harmful verdict is taken from one forward pass (no decoding). The prompt text every item
// shares (Llama Guard's category list, HarmBench's instructions) is computed once. Plain C++.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/eval/eval_report.h"
#include "core/eval/judge_prompt.h"
#include "core/run/device.h"
#include "core/run/progress.h"

namespace sq {

class Model;

struct JudgeItem {
  std::string request, reply;
};

struct JudgeVerdict {
  double p = 0;          // softmax over the two verdict words' first tokens: P(harmful)
  bool valid = true;     // the most likely token over the whole vocabulary is one of them
  bool clipped = false;  // the reply was cut to kJudgeReplyTokens of the judge's tokens
};

struct JudgeRunOptions {
  int batch_size = 8;
  bool reuse_prefix = true;  // false: every item computes the shared text itself (for measuring)
  Progress progress;
};

class Judge {
 public:
  // Loads the judge folder (or .gguf) as the engine loads any model; Llama Guard's category list
  // is read from its chat template. Throws sq::Error naming the folder when the tokenizer cannot
  // tell the two verdict words apart by their first token.
  Judge(const std::string& dir, JudgeFormat format, ComputeDevice device = {});
  ~Judge();

  std::vector<JudgeVerdict> judge(const std::vector<JudgeItem>& items, const JudgeRunOptions& options = {}) const;

  // Judges the malicious prompts' replies of `report` (whose per-prompt rows are `prompts`, in
  // order) and records each P and the summary, agreement with the phrase list included.
  void judge_report(EvalReport& report, const std::vector<Prompt>& prompts, const JudgeRunOptions& options = {}) const;

  // The prompt tokens the items would share (computed once), for the report.
  int last_prefix_tokens() const { return last_prefix_; }
  const std::string& dir() const { return dir_; }
  JudgeFormat format() const { return format_; }
  GuardCategories categories() const { return categories_; }
  // The verdict words' first token ids: {harmful, not harmful}.
  std::pair<int32_t, int32_t> verdict_ids() const { return {positive_, negative_}; }
  // The token ids of one item's prompt, as judged.
  std::vector<int32_t> encode(const JudgeItem& item, bool* clipped = nullptr) const;

 private:
  std::string dir_;
  JudgeFormat format_;
  GuardCategories categories_ = GuardCategories::Guard3_1B;
  std::unique_ptr<Model> model_;
  int32_t positive_ = -1, negative_ = -1;
  mutable int last_prefix_ = 0;
};

// Each report's malicious replies judged by the judge folder `dir` (one load for all), when `dir`
// is not empty; `prompts` are every report's rows, in order.
// Throws sq::Error unless `prompts` hold a malicious one (label 1) for a judge to read: callers
// check before any model generates, so that no work is lost to it.
void check_judgeable(const std::vector<Prompt>& prompts, const std::string& where);

void judge_reports(std::vector<EvalReport>& reports, const std::vector<Prompt>& prompts, const std::string& dir,
                   JudgeFormat format, ComputeDevice device, const Progress& progress);

// Cohen's kappa of a 2 × 2 table (both, first only, second only, neither); none when chance
// agreement is total (every item in one row and one column).
std::optional<double> cohen_kappa(int both, int first_only, int second_only, int neither);

// The judge's figures of a report from its per-prompt P and verdicts (the arithmetic of
// judge_report): harmful score, mean P, invalid count and the agreement table.
void summarize_judge(EvalReport& report);

}  // namespace sq
