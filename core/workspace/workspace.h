#pragma once
// The studio's workspace folder and every path in it: runs/<method>-<scheme>-<time>/ (a
// quantization run, with the eval.json of its model under it), baseline/eval.json (the
// full-precision models' figures), probe[-<run>]/ and probe-aligned[-<run>]/ (probe folders).
// The studio and its benches name these paths through this type only. Torch-free.
#include <optional>
#include <string>
#include <vector>

#include "core/eval/eval_report.h"
#include "core/quantized/run_record.h"

namespace sq {

class Workspace {
 public:
  explicit Workspace(std::string dir);  // made when missing; sq::Error names it when it cannot be
  const std::string& dir() const { return dir_; }

  std::string runs_dir() const;
  // A new run's folder: "<method>-<scheme>-<stamp>" under runs/.
  std::string new_run_dir(QuantMethod method, const std::string& scheme, const std::string& stamp) const;
  std::string baseline_eval() const;
  // Sweeps started from the studio: each a config "<stamp>.sweep.json" (runnable with `safequant
  // sweep`) beside its folder "<stamp>" under sweeps/.
  std::string sweeps_dir() const;
  std::string new_sweep_config(const std::string& stamp) const;
  // The sweep folders under sweeps/ that hold a table (sweep.json), in name order.
  std::vector<std::string> sweeps() const;
  // The probes of the target (or, from_aligned, of the aligned model), alone or compared with
  // the target under the run named `run` (its folder's name).
  std::string probe_dir(bool from_aligned, const std::string& run = {}) const;
  // The target's sensitivity table (each unit quantized alone at each weight option).
  std::string sensitivity_dir() const;

  struct Run {
    std::string dir, name;
    RunRecord record;
    std::optional<EvalReport> eval;  // its eval.json, when there is a readable one
    double quant_bytes = 0;          // its quantized tensors on disk
  };
  // The run folders that can be read, in name order; the others are skipped.
  std::vector<Run> runs() const;
  // The full-precision figures (empty before the baseline was evaluated or when unreadable).
  std::vector<EvalReport> baseline() const;

  static constexpr const char* kEvalFile = "eval.json";

 private:
  std::string dir_;
};

}  // namespace sq
