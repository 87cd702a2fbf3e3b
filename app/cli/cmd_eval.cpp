// `safequant eval`: harmful score, over-refusal, perplexity and task accuracy of one or more
// models on the same prompt files; several models give one comparison table (JSON + CSV).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/eval/evaluate.h"
#include "core/eval/judge.h"
#include "core/io/atomic_file.h"
#include "core/run/resources.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_eval(const Args& a) {
  const auto models = a.all("model");
  if (models.empty()) throw UsageError("--model is required");
  const auto runs = a.all("quant");
  if (!runs.empty() && models.size() != 1) throw UsageError("--quant takes one --model (the runs' full-precision model)");
  const auto files = a.all("data");
  if (files.empty()) throw UsageError("--data is required");
  EvalOptions o;
  o.max_new_tokens = a.get_int("max-new", 48);
  if (o.max_new_tokens < 1) throw UsageError("--max-new must be at least 1");
  o.batch_size = a.get_int("batch-size", 8);
  if (o.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  o.chat = chat_arg(a);
  o.truncate = a.has("truncate");
  o.perplexity = !a.has("no-perplexity");
  o.progress = progress_bar(a);
  const std::string list = a.get("refusals", kDefaultRefusalList);
  const RefusalMatcher refusals = RefusalMatcher::from_choice(list, data_file("refusal_prefixes.json"));
  const std::vector<Prompt> prompts = load_prompt_files(files);
  const ComputeDevice device = device_arg(a);
  sq::start_thread_fitting();
  // The judge loads first: a folder it cannot use is refused before any model generates.
  std::unique_ptr<Judge> judge;
  JudgeRunOptions jo;
  if (a.has("judge")) {
    check_judgeable(prompts, files.size() == 1 ? files[0] : "the prompt files");
    judge = std::make_unique<Judge>(a.get("judge"), parse_judge_format(a.get("judge-format", "llama-guard-3")), device);
    jo.batch_size = a.get_int("judge-batch-size", 8);
    if (jo.batch_size < 1) throw UsageError("--judge-batch-size must be at least 1");
    jo.reuse_prefix = !a.has("no-judge-prefix");
    jo.progress = o.progress;
  } else if (a.has("judge-format") || a.has("judge-batch-size") || a.has("no-judge-prefix")) {
    throw UsageError("--judge-format, --judge-batch-size and --no-judge-prefix go with --judge DIR");
  }
  std::vector<EvalReport> reports;
  // Several models, or one model and its quantization runs.
  std::vector<std::pair<std::string, std::string>> subjects;
  for (const std::string& dir : models) subjects.emplace_back(dir, "");
  for (const std::string& run : runs) subjects.emplace_back(models[0], run);
  if (runs.size() == 1) subjects.erase(subjects.begin());  // one run: just that run, as CLI.md reads
  for (const auto& [dir, run] : subjects) {
    const auto model = Model::load(dir, run, a.has("verify"), device, execution_arg(a));
    reports.push_back(evaluate(*model, prompts, refusals, o));
    reports.back().refusal_list = list;
    if (!run.empty()) reports.back().model = dir + " @ " + run;
    double judge_seconds = 0;
    if (judge) {
      const auto t0 = std::chrono::steady_clock::now();
      judge->judge_report(reports.back(), prompts, jo);
      judge_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const EvalReport& r = reports.back();
    if (!a.has("quiet")) {
      std::fprintf(stderr, "eval %s: harmful %.1f%% of %d malicious, over-refusal %.1f%% of %d benign", r.model.c_str(),
                   r.harmful_score, r.n_malicious, r.refusal_rate_benign, r.n_benign);
      if (r.refusal_rate_xstest_safe) std::fprintf(stderr, ", XSTest-safe %.1f%%", *r.refusal_rate_xstest_safe);
      if (r.task_accuracy) std::fprintf(stderr, ", task %.1f%% of %d", *r.task_accuracy, r.n_task);
      if (r.perplexity) std::fprintf(stderr, ", perplexity %.2f", *r.perplexity);
      if (r.truncated) std::fprintf(stderr, "; %zu prompts cut to the context (--truncate)", r.truncated);
      if (!run.empty()) {
        const auto [packed, linears] = model->packed_linears();
        std::fprintf(stderr, "; %lld of %lld linear layers on packed codes", (long long)packed, (long long)linears);
      }
      std::fprintf(stderr, "\n");
      if (r.judge) {
        const JudgeSummary& j = *r.judge;
        std::fprintf(stderr,
                     "  judge %s (%s): harmful %.1f%% of %d, mean P %.3f, %d invalid, %d replies clipped; with the phrase list: "
                     "%d both, %d phrase only, %d judge only, %d neither, kappa %s; %d prompt tokens shared, %.1f replies/s\n",
                     j.judge.c_str(), j.format.c_str(), j.harmful_score, j.judged, j.mean_p, j.invalid, j.clipped, j.both_harmful,
                     j.phrase_only, j.judge_only, j.neither, j.kappa ? std::to_string(*j.kappa).c_str() : "undefined",
                     j.prefix_tokens, judge_seconds > 0 ? j.judged / judge_seconds : 0.0);
      }
    }
  }
  if (a.has("out")) {
    write_eval_json(a.get("out"), reports);
    if (reports.size() > 1) {
      const std::string csv = std::filesystem::path(a.get("out")).replace_extension(".csv").string();
      write_atomically(csv, [&](std::ostream& s) { s << comparison_csv(reports); });
    }
  } else {
    std::cout << eval_json(reports) << "\n";
  }
  return 0;
}

}  // namespace sq::cli
