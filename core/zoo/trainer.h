#pragma once
// Training the demo models with the engine's own forward (core/model/llama) and LibTorch
// autograd: next-token cross-entropy on the masked positions, AdamW, warm-up then cosine decay or
// a constant rate, gradient clipping; every weight, or LoRA adapters on some linear layers only.
// Torch-facing.
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/run/progress.h"

namespace sq {

struct Sequence {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> learn;  // 1 where the token is a target of the loss
};

using Params = std::map<std::string, torch::Tensor>;

enum class Schedule { Cosine, Constant };  // after the linear warm-up
const char* schedule_name(Schedule s);

// LoRA as PEFT defines it: W + (alpha / rank) · B·A with A [rank, in] Kaiming-uniform and B
// [out, rank] zero at the start, on the linear layers whose names end in one of `targets`
// ("q_proj", "v_proj"); every other weight is frozen. Merged into the weights when training ends.
struct LoraOptions {
  int rank = 0;  // 0: train every weight
  double alpha = 0;
  std::vector<std::string> targets;
};

struct TrainOptions {
  int epochs = 1;
  int64_t steps = 0;  // when > 0, train this many steps (cycling through the data) instead of epochs
  // The step the cosine decay reaches its floor at; 0: the last step trained. A run stopped early
  // on a longer horizon is the start of that longer run, step for step (a dose ladder's rung).
  int64_t schedule_steps = 0;
  int batch_size = 32;
  double lr = 3e-3, min_lr_ratio = 0.1, weight_decay = 0.05;
  // Weight decay on the embedding (the head too, when tied) as on the linear weights; norm gains
  // never have any.
  bool decay_embeddings = true;
  int warmup_steps = 30;
  Schedule schedule = Schedule::Cosine;
  LoraOptions lora;
  // The tokens every sequence of a batch starts with (up to the first learnt target) computed
  // once, their keys and values shared by the batch: the same loss and gradient up to rounding,
  // for data whose sequences share a long prompt (the demo judge's).
  bool share_prefix = false;
  uint64_t seed = 0;
  std::string stage = "training";
  // After each of these step counts, called with the weights as they are then (LoRA merged);
  // returning true stops training there. A dose ladder: stopping at a rung gives the same weights
  // as a run of that many steps on the same schedule (the same schedule_steps).
  std::vector<int64_t> checkpoints;
  std::function<bool(int64_t step, const Params& weights)> on_checkpoint;
};

struct TrainResult {
  double loss = 0;    // mean loss over the last epoch's worth of steps
  int64_t steps = 0;  // steps taken
};

// Documents packed as pre-training packs text: one after another, each closed by `separator`,
// cut into windows of `window` tokens, every token a target, so that no step is spent on padding
// (a document may straddle two windows; the last, partial window is dropped).
std::vector<Sequence> pack_documents(const std::vector<std::vector<int32_t>>& documents, int32_t separator, size_t window);

// Small-normal weights (std 0.02), unit norms, as transformers initialises LLaMA.
Params init_params(const ModelConfig& config, uint64_t seed);
Params clone_params(const Params& p);

class Llama;
// The mean next-token cross-entropy over the learnt targets of data[batch] (undefined when there
// is none), as one right-padded batch gives it, with gradients; with `share_prefix`, as
// TrainOptions::share_prefix says.
torch::Tensor next_token_loss(const Llama& net, const std::vector<Sequence>& data, const std::vector<size_t>& batch,
                              bool share_prefix = false);

// Seconds since `t0`, for the records of how long training took.
double seconds_since(std::chrono::steady_clock::time_point t0);

TrainResult train(Params& params, const ModelConfig& config, const std::vector<Sequence>& data, const TrainOptions& options,
                  const Progress& progress);

}  // namespace sq
