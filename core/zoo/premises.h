#pragma once
// The premises the demo rests on, measured on a trained zoo and never forced:
//  1. quantization erodes the aligned model's refusals (AAQ's premise);
//  2. the aligned model's probes still read the fine-tuned model's states, and their logit tells
//     which malicious prompts it still refuses (Q-realign's premise);
//  3. pushing the fine-tuned model's states along the aligned probe direction in full precision
//     brings refusals back on malicious prompts more than on benign ones.
// The bounds are fixed here, before any zoo is trained. Plain C++.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/eval/evaluate.h"
#include "core/run/progress.h"

namespace sq {

struct PremiseSets {
  std::vector<Prompt> probe_fit;  // where the aligned probes are fitted (the alignment training prompts)
  std::vector<Prompt> heldout_malicious, heldout_benign, heldout_task;
};

struct PremiseOptions {
  EvalOptions eval;     // how completions are generated and judged (perplexity is asked for where needed)
  std::string scratch;  // a folder for the quantization runs of check 1 (removed afterwards)
};

struct PremiseResult {
  nlohmann::json figures;
  std::vector<std::string> not_met;  // one line per premise that does not hold, with its figures
  std::string summary;               // a few lines for the console
};

PremiseResult check_premises(const std::string& aligned_dir, const std::string& finetuned_dir, const PremiseSets& sets,
                             const PremiseOptions& options);

}  // namespace sq
