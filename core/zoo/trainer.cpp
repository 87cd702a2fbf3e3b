#include "core/zoo/trainer.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/run/torch_device.h"
#include "core/model/llama.h"

namespace sq {

const char* schedule_name(Schedule s) { return s == Schedule::Cosine ? "cosine" : "constant"; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// host: the zoo trains on the CPU, so that a preset and seed give the same models on every machine
Params init_params(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  Params p;
  for (const ParamSpec& spec : parameter_specs(c)) {
    const bool norm = spec.name.find("norm") != std::string::npos;
    torch::Tensor t = norm ? torch::ones(spec.shape, host()) : torch::randn(spec.shape, host()) * 0.02;
    p[spec.name] = t.set_requires_grad(true);
  }
  return p;
}

std::vector<Sequence> pack_documents(const std::vector<std::vector<int32_t>>& documents, int32_t separator, size_t window) {
  std::vector<Sequence> out;
  Sequence w;
  auto push = [&](int32_t id) {
    w.tokens.push_back(id);
    if (w.tokens.size() < window) return;
    w.learn.assign(window, 1);
    out.push_back(std::move(w));
    w = {};
  };
  for (const auto& doc : documents) {
    for (int32_t id : doc) push(id);
    push(separator);
  }
  return out;
}

Params clone_params(const Params& p) {
  Params out;
  for (const auto& [name, t] : p) out[name] = t.detach().clone().set_requires_grad(true);
  return out;
}

namespace {

struct Adapter {
  std::string weight;
  torch::Tensor a, b;  // [rank, in], [out, rank]
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<Adapter> make_adapters(const Params& params, const LoraOptions& lora, uint64_t seed) {
  std::vector<Adapter> adapters;
  if (lora.rank <= 0) return adapters;
  torch::manual_seed(seed);
  for (const auto& [name, w] : params)
    for (const std::string& t : lora.targets)
      if (ends_with(name, t + ".weight") && w.dim() == 2) {
        // PEFT: A Kaiming-uniform with a = sqrt(5), i.e. U(±1/sqrt(in)); B zero, so training starts at W.
        const double bound = 1.0 / std::sqrt(double(w.size(1)));
        adapters.push_back({name, (torch::rand({lora.rank, w.size(1)}, beside(w)) * 2 - 1).mul_(bound).set_requires_grad(true),
                            torch::zeros({w.size(0), lora.rank}, beside(w)).set_requires_grad(true)});
      }
  if (adapters.empty()) throw Error("LoRA: no linear layer matches the targets");
  return adapters;
}

// A step's sequences, shortest first, cut into runs that are each padded only to their own
// longest: the gradient of one padded batch (right padding never reaches a real position) without
// its padding, which is half of the demo zoo's batches. A run costs its padded tokens plus a fixed
// overhead of about kRunTokens tokens (the dispatch of every operation of a forward and backward
// pass); the cuts minimise the sum.
std::vector<std::vector<size_t>> length_runs(std::vector<size_t> batch, const std::vector<Sequence>& data) {
  constexpr int64_t kRunTokens = 256;
  std::stable_sort(batch.begin(), batch.end(), [&](size_t a, size_t b) { return data[a].tokens.size() < data[b].tokens.size(); });
  const size_t n = batch.size();
  std::vector<int64_t> best(n + 1, 0);
  std::vector<size_t> cut(n + 1, 0);  // the run ending at j starts at cut[j]
  for (size_t j = 1; j <= n; ++j) {
    best[j] = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < j; ++i) {
      const int64_t cost = best[i] + int64_t(j - i) * int64_t(data[batch[j - 1]].tokens.size()) + kRunTokens;
      if (cost < best[j]) best[j] = cost, cut[j] = i;
    }
  }
  std::vector<std::vector<size_t>> runs;
  for (size_t j = n; j > 0; j = cut[j])
    runs.insert(runs.begin(), std::vector<size_t>(batch.begin() + std::ptrdiff_t(cut[j]), batch.begin() + std::ptrdiff_t(j)));
  return runs;
}

// How many leading tokens the sequences of `batch` share before the first learnt target's input
// (each keeping at least one token of its own).
size_t shared_prefix(const std::vector<Sequence>& data, const std::vector<size_t>& batch) {
  const Sequence& first = data[batch.front()];
  size_t n = first.tokens.size() - 1;
  for (size_t i : batch) {
    const Sequence& s = data[i];
    n = std::min(n, s.tokens.size() - 1);
    size_t k = 0;
    while (k < n && s.tokens[k] == first.tokens[k] && !s.learn[k + 1]) ++k;
    n = k;
  }
  return n;
}

}  // namespace

torch::Tensor next_token_loss(const Llama& net, const std::vector<Sequence>& data, const std::vector<size_t>& batch,
                              bool share_prefix) {
  torch::Tensor sum;
  int64_t learnt = 0;
  // The shared prefix once, its keys and values expanded over each run (their gradients summed
  // back by the expansion).
  const size_t P = share_prefix && !batch.empty() ? shared_prefix(data, batch) : 0;
  KVCache prefix;
  if (P) {
    const std::vector<int32_t>& first = data[batch.front()].tokens;
    net.forward(torch::tensor(std::vector<int64_t>(first.begin(), first.begin() + std::ptrdiff_t(P)), host(torch::kInt64)).unsqueeze(0),
                {}, &prefix, nullptr, Llama::LogitRows::None);
  }
  for (const std::vector<size_t>& run : length_runs(batch, data)) {
    const int64_t n = int64_t(run.size()), T = int64_t(data[run.back()].tokens.size() - P);
    // Right padding: causal attention never looks ahead, so padding affects nothing real.
    std::vector<int64_t> tok(size_t(n * T), 0), rows, targets;
    for (int64_t b = 0; b < n; ++b) {
      const Sequence& s = data[run[size_t(b)]];
      for (size_t t = P; t < s.tokens.size(); ++t) {
        const int64_t c = int64_t(t - P);  // the column after the prefix
        tok[size_t(b * T + c)] = s.tokens[t];
        if (c > 0 && s.learn[t]) rows.push_back(b * (T - 1) + c - 1), targets.push_back(s.tokens[t]);
      }
    }
    if (rows.empty()) continue;
    learnt += int64_t(rows.size());
    KVCache cache;
    for (size_t l = 0; l < prefix.keys.size(); ++l) {
      cache.keys.push_back(prefix.keys[l].expand({n, -1, -1, -1}));
      cache.values.push_back(prefix.values[l].expand({n, -1, -1, -1}));
    }
    // Logits only at the positions whose next token is learnt (in alignment a sixth of them).
    const torch::Tensor hidden = net.forward(torch::tensor(tok, host(torch::kInt64)).view({n, T}), {}, P ? &cache : nullptr, nullptr,
                                             Llama::LogitRows::None);
    const torch::Tensor read =
        hidden.narrow(1, 0, T - 1).reshape({-1, hidden.size(-1)}).index_select(0, torch::tensor(rows, host(torch::kInt64)));
    const torch::Tensor nll = torch::nn::functional::cross_entropy(
        net.logits(read), torch::tensor(targets, host(torch::kInt64)),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    sum = sum.defined() ? sum + nll : nll;
  }
  return sum.defined() ? sum / double(learnt) : sum;
}

TrainResult train(Params& params, const ModelConfig& config, const std::vector<Sequence>& data, const TrainOptions& o,
                  const Progress& progress) {
  if (data.empty()) throw Error("no training sequences");
  const std::vector<Adapter> adapters = make_adapters(params, o.lora, o.seed);
  const double scale = adapters.empty() ? 0.0 : o.lora.alpha / double(o.lora.rank);
  // With adapters the weights are frozen: no gradient is kept for them.
  if (!adapters.empty())
    for (auto& [name, t] : params) t.set_requires_grad(false);
  auto effective = [&] {
    Params e = params;
    for (const Adapter& ad : adapters) e[ad.weight] = params.at(ad.weight) + scale * torch::matmul(ad.b, ad.a);
    return e;
  };

  std::vector<torch::Tensor> list, decayed, plain;
  if (adapters.empty()) {
    for (auto& [name, t] : params)
      (t.dim() >= 2 && (o.decay_embeddings || name.find("embed_tokens") == std::string::npos) ? decayed : plain).push_back(t);
  } else {
    for (const Adapter& ad : adapters) decayed.push_back(ad.a), decayed.push_back(ad.b);
  }
  list = decayed;
  list.insert(list.end(), plain.begin(), plain.end());
  std::vector<torch::optim::OptimizerParamGroup> groups{torch::optim::OptimizerParamGroup(decayed)};
  if (!plain.empty()) groups.emplace_back(plain);
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(o.weight_decay));
  if (!plain.empty()) static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[1].options()).weight_decay(0.0);

  const int64_t steps_per_epoch = int64_t((data.size() + size_t(o.batch_size) - 1) / size_t(o.batch_size));
  const int64_t total = o.steps > 0 ? o.steps : steps_per_epoch * o.epochs;
  std::mt19937_64 rng(o.seed);
  std::vector<size_t> order(data.size());
  std::iota(order.begin(), order.end(), 0);
  std::deque<double> recent;  // the last epoch's worth of step losses
  double recent_sum = 0;
  int64_t step = 0;
  while (step < total) {
    const int64_t k = step % steps_per_epoch;
    // Shuffled each epoch. (Batching by length, as transformers' group_by_length does, took a
    // third off the demo zoo's time but left the base model's task perplexity 2.5 times higher:
    // batches of one length are batches of one kind of text.)
    if (k == 0) std::shuffle(order.begin(), order.end(), rng);
    progress.step(step, total, o.stage);
    const std::vector<size_t> batch(order.begin() + std::ptrdiff_t(size_t(k) * size_t(o.batch_size)),
                                    order.begin() + std::ptrdiff_t(std::min(order.size(), size_t(k + 1) * size_t(o.batch_size))));
    const torch::Tensor loss = next_token_loss(Llama(config, effective()), data, batch, o.share_prefix);
    // Linear warm-up, then cosine decay to min_lr_ratio of the peak, or the peak throughout.
    const int64_t horizon = o.schedule_steps > 0 ? o.schedule_steps : total;
    const double frac = std::min(1.0, double(step) / double(std::max<int64_t>(1, horizon - 1)));
    const double lr = step < o.warmup_steps ? o.lr * double(step + 1) / double(o.warmup_steps)
                      : o.schedule == Schedule::Constant
                          ? o.lr
                          : o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * frac)));
    for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    opt.zero_grad();
    // A batch with no learnt target leaves the weights as they are.
    if (loss.defined()) {
      loss.backward();
      torch::nn::utils::clip_grad_norm_(list, 1.0);
      opt.step();
    }
    recent.push_back(loss.defined() ? loss.item<double>() : 0.0);
    recent_sum += recent.back();
    if (int64_t(recent.size()) > steps_per_epoch) recent_sum -= recent.front(), recent.pop_front();
    ++step;
    if (o.on_checkpoint && std::find(o.checkpoints.begin(), o.checkpoints.end(), step) != o.checkpoints.end()) {
      torch::NoGradGuard no_grad;
      if (o.on_checkpoint(step, effective())) break;
    }
  }
  progress.step(total, total, o.stage);
  if (!adapters.empty()) {
    torch::NoGradGuard no_grad;
    params = effective();
    for (auto& [name, t] : params) t = t.detach().clone().set_requires_grad(true);
  }
  return {recent_sum / double(std::max<size_t>(1, recent.size())), step};
}

}  // namespace sq
