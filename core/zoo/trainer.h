#pragma once
// Training the demo models with the engine's own forward (core/model/llama) and LibTorch
// autograd: next-token cross-entropy on the masked positions, AdamW, warm-up and cosine decay,
// gradient clipping. Torch-facing.
#include <torch/torch.h>

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

struct TrainOptions {
  int epochs = 1;
  int batch_size = 32;
  double lr = 3e-3, min_lr_ratio = 0.1, weight_decay = 0.05;
  int warmup_steps = 30;
  uint64_t seed = 0;
  std::string stage = "training";
};

using Params = std::map<std::string, torch::Tensor>;

// Small-normal weights (std 0.02), unit norms, as transformers initialises LLaMA.
Params init_params(const ModelConfig& config, uint64_t seed);
Params clone_params(const Params& p);

// Returns the mean loss of the last epoch.
double train(Params& params, const ModelConfig& config, const std::vector<Sequence>& data, const TrainOptions& options,
             const Progress& progress);

}  // namespace sq
