#pragma once
// `safequant quantize`: block by block over a model's decoder layers, with one layer's weights
// resident at a time (the engine's onloading), quantize every target linear layer, write the run
// folder. Plain C++: the CLI and the GUI call it alike.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/model/chat_template.h"
#include "core/quantized/quant_method.h"
#include "core/quantized/scheme.h"
#include "core/quantized/scheme_mix.h"
#include "core/run/device.h"
#include "core/run/progress.h"

namespace sq {

struct QuantizeOptions {
  // The options a front end starts from for `method`: its learning rate and rotation defaults.
  static QuantizeOptions for_method(QuantMethod method);

  QuantMethod method = QuantMethod::Rtn;
  QuantScheme scheme;
  // A mixed-precision plan: each unit's weights on the unit's scheme (RTN, GPTQ, LWC and AAQ
  // alike), the embedding and head by RTN; `scheme` is then mixed_run_scheme().
  std::optional<SchemeMix> mix;
  const QuantScheme* scheme_for(const std::string& param) const { return weight_scheme(param, scheme, mix); }
  std::vector<Prompt> prompts;  // calibration pool (GPTQ); drawn at `ratio`
  ChatSettings chat;            // how the calibration prompts are rendered (always chat-templated)
  int samples = 200, seq_len = 128, batch_size = 8;
  double ratio = 0.75;
  uint64_t seed = 0;
  double damp = 0.01;
  bool act_order = false;
  bool hessian_f64 = false;     // GPTQ: Hessians and the column loop in fp64 (default fp32, as GPTQ's reference code)
  int epochs = 10;              // LWC epochs over the calibration set, per block (aaq: end to end)
  // lwc / q-realign, as Q-realign's code schedules them: epochs - 5 for the first half of the
  // layers, epochs + 5 for the rest; false: `epochs` for every block.
  bool paper_epochs = true;
  // lwc / q-realign: the reconstruction target of a block is the full-precision model's output
  // there (inputs propagated in full precision, as OmniQuant does); false: the full-precision
  // block applied to the quantized model's inputs.
  bool fp_targets = true;
  double lr = 0.05;             // for theta, where clip = sigmoid(theta) starts at sigmoid(4); see for_method
  std::string aligned_dir;      // q-realign: fit the probes on this (aligned) model's activations
  std::string probes_dir;       // q-realign: or take them from a `safequant probe` folder of it
  // q-realign's control: each layer's probe replaced by a random sparse one of the same norm,
  // number of non-zero weights and intercept (the push then follows no learnt direction).
  bool random_probes = false;
  std::string teacher_dir;      // aaq: distil from this model instead of the model itself (not AAQ)
  bool smooth = true;           // lwc, q-realign: learn smoothing scales (LET) with the clipping
  bool rotate = false;          // rotate the residual stream (randomized Hadamard), folded into the weights
  std::string base_dir;         // aaq: the unaligned base model pushed away from
  double lambda = 0.5;          // aaq: weight of the push-away term
  int top_k = 64;               // aaq: tokens per position the KL terms are taken over
  bool replace = false;         // an existing run at the run folder is replaced (and only a run)
  ComputeDevice device;         // where the models, their activations and the training live
  // The CPU threads the run computes with, whatever the CPUs it is given (HeldThreadsScope): its
  // results depend on it. 0: every core of this machine. run.json records the count used.
  int threads = 0;
  Progress progress;
  // Called as training goes: ("layer 3", block loss after an epoch) or ("aaq", objective).
  std::function<void(const std::string& series, double value)> on_loss;
};

struct QuantizeResult {
  std::string run_dir;
  double seconds = 0;
  std::vector<std::string> notes;
  // The training curve as on_loss saw it: ("layer 3" | "aaq", value), in order.
  std::vector<std::pair<std::string, double>> loss_curve;
  // aaq: the objective, KL to the aligned model and KL to the base, before and after training.
  struct AaqFigures {
    double loss = 0, pull = 0, push = 0;
  } aaq_before, aaq_after;
};

QuantizeResult quantize_model(const std::string& model_dir, const QuantizeOptions& options, const std::string& run_dir);

}  // namespace sq
