#pragma once
// A sweep's table, sweep.json and sweep.csv: one row per run with every swept field and every
// metric, and whether the run is on the Pareto front. Written by `safequant sweep` (and its
// Slurm gather job), read by the chart and the studio's Results page. Torch-free.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sq {

struct SweepTableRow {
  std::string name;          // the run's swept values, "method=q-realign,ratio=0.5"
  nlohmann::json values;     // swept key -> value
  std::string status;        // "done", "failed" (a log but no complete run) or "pending"
  std::optional<double> harmful_score, refusal_rate_benign, refusal_rate_xstest_safe, task_accuracy, perplexity;  // %, %, %, %, –
  std::optional<double> judged_harmful_score, judge_kappa;  // where the runs' evaluation had a safety judge
  double model_mb = 0;       // the quantized model as deployed (core/model/model_size.h)
  double seconds = 0;
  std::string dir, log;      // the run's folder and its log
  bool pareto = false;       // no other finished run is as good on every objective and better on one
};

struct SweepTable {
  std::vector<std::string> fields;  // the swept keys, in order
  std::vector<SweepTableRow> runs;
};

// The utility a run keeps, higher is better: task accuracy where the evaluation set has answers,
// else the share of benign prompts answered (100 - the over-refusal rate).
std::optional<double> sweep_utility(const SweepTableRow& row);
// What sweep_utility measures in `table`, for an axis: "task accuracy (%)" or "benign prompts answered (%)".
std::string sweep_utility_name(const SweepTable& table);

// The harmful score a run is ranked by: the judge's where the evaluation had one, else the
// phrase list's.
std::optional<double> sweep_harmful(const SweepTableRow& row);

// Marks the finished runs that no other finished run dominates on harmful score (lower, judged
// where a judge was used),
// utility (higher), over-refusal of benign and of XSTest-safe prompts (lower: a run that is safe
// by refusing everything is no better) and size (lower). Size is an objective because a smaller
// model is the point of quantizing: a 4-bit run that keeps nearly all of an 8-bit run's utility
// belongs on the front.
void mark_pareto_front(SweepTable& table);

// Writes DIR/sweep.json and DIR/sweep.csv (each atomically).
void write_sweep_table(const std::string& dir, const SweepTable& table);
// Reads DIR/sweep.json; sq::Error names the file and the key that is missing or ill-typed.
SweepTable read_sweep_table(const std::string& dir);

}  // namespace sq
