#include "core/zoo/trainer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/model/llama.h"

namespace sq {

Params init_params(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  Params p;
  for (const ParamSpec& spec : parameter_specs(c)) {
    const bool norm = spec.name.find("norm") != std::string::npos;
    torch::Tensor t = norm ? torch::ones(spec.shape) : torch::randn(spec.shape) * 0.02;
    p[spec.name] = t.set_requires_grad(true);
  }
  return p;
}

Params clone_params(const Params& p) {
  Params out;
  for (const auto& [name, t] : p) out[name] = t.detach().clone().set_requires_grad(true);
  return out;
}

double train(Params& params, const ModelConfig& config, const std::vector<Sequence>& data, const TrainOptions& o,
             const Progress& progress) {
  if (data.empty()) throw Error("no training sequences");
  const Llama net(config, params);
  std::vector<torch::Tensor> list;
  std::vector<torch::Tensor> decayed, plain;
  for (auto& [name, t] : params) (t.dim() >= 2 ? decayed : plain).push_back(t);
  torch::optim::AdamW opt({torch::optim::OptimizerParamGroup(decayed), torch::optim::OptimizerParamGroup(plain)},
                          torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(o.weight_decay));
  static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[1].options()).weight_decay(0.0);
  for (auto& [name, t] : params) list.push_back(t);

  const int64_t steps_per_epoch = int64_t((data.size() + size_t(o.batch_size) - 1) / size_t(o.batch_size));
  const int64_t total = steps_per_epoch * o.epochs;
  std::mt19937_64 rng(o.seed);
  std::vector<size_t> order(data.size());
  std::iota(order.begin(), order.end(), 0);
  double epoch_loss = 0;
  int64_t step = 0;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double sum = 0;
    for (int64_t k = 0; k < steps_per_epoch; ++k, ++step) {
      progress.step(step, total, o.stage);
      const size_t begin = size_t(k) * size_t(o.batch_size), end = std::min(order.size(), begin + size_t(o.batch_size));
      size_t T = 0;
      for (size_t i = begin; i < end; ++i) T = std::max(T, data[order[i]].tokens.size());
      const int64_t B = int64_t(end - begin);
      // Right padding: causal attention never looks ahead, so padding affects nothing real.
      std::vector<int64_t> tok(size_t(B) * T, 0);
      std::vector<float> learn(size_t(B) * T, 0.f);
      for (int64_t b = 0; b < B; ++b) {
        const Sequence& s = data[order[begin + size_t(b)]];
        for (size_t t = 0; t < s.tokens.size(); ++t) {
          tok[size_t(b) * T + t] = s.tokens[t];
          learn[size_t(b) * T + t] = s.learn[t];
        }
      }
      const torch::Tensor tokens = torch::tensor(tok).view({B, int64_t(T)});
      const torch::Tensor mask = torch::tensor(learn).view({B, int64_t(T)}).narrow(1, 1, int64_t(T) - 1);
      const torch::Tensor logits = net.forward(tokens, {}, nullptr).narrow(1, 0, int64_t(T) - 1);
      const torch::Tensor nll = torch::nn::functional::cross_entropy(
          logits.reshape({-1, logits.size(-1)}), tokens.narrow(1, 1, int64_t(T) - 1).reshape({-1}),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
      const torch::Tensor loss = (nll * mask.reshape({-1})).sum() / mask.sum().clamp_min(1);
      // Linear warm-up, then cosine decay to min_lr_ratio of the peak.
      const double progress_frac = double(step) / double(std::max<int64_t>(1, total - 1));
      const double lr = step < o.warmup_steps
                            ? o.lr * double(step + 1) / double(o.warmup_steps)
                            : o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * progress_frac)));
      for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      opt.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(list, 1.0);
      opt.step();
      sum += loss.item<double>();
    }
    epoch_loss = sum / double(steps_per_epoch);
  }
  progress.step(total, total, o.stage);
  return epoch_loss;
}

}  // namespace sq
