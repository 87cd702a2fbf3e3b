#pragma once
// `safequant efficacy`: the table that says whether the safety-aware methods work on the demo
// zoo. Every method at every scheme on the fine-tuned and the aligned model, over several
// calibration seeds, evaluated on the zoo's held-out prompts (malicious, benign, XSTest-safe,
// task), with an exact McNemar test of each method against LWC+LET (reconstruction only, Q-realign's
// ablation) on the same malicious prompts, and the goals checked as measured. Writes a Markdown
// report and the figures as JSON. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/run/progress.h"

namespace sq {

enum class EfficacyMethod { Rtn, Gptq, LwcLet, QRealign, RandomProbe, Aaq };
const std::vector<EfficacyMethod>& efficacy_methods();
const char* efficacy_method_name(EfficacyMethod m);  // as the table shows it

struct EfficacyOptions {
  std::string zoo;                               // a `safequant zoo` folder
  std::vector<std::string> models = {"finetuned", "aligned"};
  std::vector<std::string> schemes = {"w8a8", "w4a4+rotation"};
  std::vector<EfficacyMethod> methods = efficacy_methods();
  int seeds = 3;
  std::string work;       // quantization runs go here; a complete run of the same settings is reused
  std::string out;        // the Markdown report; the JSON goes beside it (.json)
  std::string command;    // how it was invoked, quoted in the report
  int max_new_tokens = 32;
  std::string judge, judge_format = "llama-guard-3";  // a safety judge's folder: judged columns beside the phrase list's
  bool zoo_judge = true;  // with no judge given, the zoo's demo judge (its judge/ folder) when it has one
  Progress progress;
};

struct EfficacyResult {
  std::string markdown;
  std::vector<std::string> goals_missed;
};

EfficacyResult run_efficacy(const EfficacyOptions& options);

// Two-sided exact McNemar test: b and c are the discordant pairs (binomial, p = 1/2).
double mcnemar_exact(int b, int c);

}  // namespace sq
