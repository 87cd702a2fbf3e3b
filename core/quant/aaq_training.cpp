#include "core/quant/aaq_training.h"

#include <array>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/quant/aaq.h"
#include "core/run/torch_device.h"

namespace sq {
namespace {

namespace fs = std::filesystem;

// Bytes of memory available now (MemAvailable), or 0 when unknown.
double available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  while (in >> key >> kb)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

}  // namespace

std::vector<LayerSmoothing> train_aaq(const ModelConfig& c, const ModelConfig& cq, const std::shared_ptr<const Checkpoint>& weights,
                                      const Params& globals, const std::function<Params(int64_t)>& layer_params,
                                      const std::vector<Llama::Batch>& batches, const QuantizeOptions& o, QuantizeResult& result) {
  const torch::Device dev = torch_device(o.device);
  const auto base_ckpt = std::make_shared<const Checkpoint>(o.base_dir);
  const ModelConfig bc = load_config((fs::path(o.base_dir) / "config.json").string());
  if (bc.vocab_size != c.vocab_size)
    throw Error(o.base_dir, "the base model's vocabulary (" + std::to_string(bc.vocab_size) + ") differs from the model's (" +
                                std::to_string(c.vocab_size) + "); AAQ compares their logits token by token");
  // Three models resident, the trained one with gradients, plus each batch's activations.
  int64_t longest = 0, rows = 0;
  for (const auto& b : batches) longest = std::max(longest, b.tokens.size(1)), rows = std::max(rows, b.tokens.size(0));
  const double need = double(c.parameter_count() + bc.parameter_count()) * 4 * 3 +
                      double(rows * longest) * double(c.vocab_size * 4 + c.hidden_size * c.num_layers * 24) * 4;
  const double have = available_bytes();
  if (have > 0 && need > 0.8 * have)
    throw Error("aaq trains the whole model end to end: it needs about " + std::to_string(int(need / 1e9 + 1)) + " GB and " +
                std::to_string(int(have / 1e9)) + " GB are available. Use fewer --samples or a shorter --seq-len, or q-realign, "
                "which calibrates one block at a time");

  std::vector<AaqTargets> targets;
  {
    torch::NoGradGuard no_grad;
    // The teacher is the model itself in full precision; distilling from another model is the
    // separate, explicitly named --teacher.
    const Llama base(bc, base_ckpt, dev);
    const Llama teacher = o.teacher_dir.empty()
                              ? Llama(c, weights, dev)
                              : Llama(load_config((fs::path(o.teacher_dir) / "config.json").string()),
                                      std::make_shared<const Checkpoint>(o.teacher_dir), dev);
    if (teacher.config().vocab_size != c.vocab_size) throw Error(o.teacher_dir, "the teacher's vocabulary differs from the model's");
    for (const auto& b : batches)
      targets.push_back(aaq_targets(teacher.forward(b.tokens, b.mask, nullptr), base.forward(b.tokens, b.mask, nullptr), o.top_k));
  }
  std::vector<Params> layers;
  Params full = globals;
  for (int64_t i = 0; i < c.num_layers; ++i) layers.push_back(layer_params(i)), full = merged(full, layers.back());
  for (const ParamSpec& spec : parameter_specs(cq))
    if (!full.count(spec.name)) full[spec.name] = as_tensor(weights->tensor(spec.name)).to(dev, torch::kFloat32);
  // SmoothQuant's start from the full-precision activations, then AdamW on the objective.
  std::vector<LayerSmoothing> smoothing;
  {
    torch::NoGradGuard no_grad;
    const Llama fp(cq, full);
    std::vector<Llama::State> states = fp.embed(batches);
    for (int64_t i = 0; i < c.num_layers; ++i) {
      smoothing.push_back(init_smoothing(cq, layers[size_t(i)], i, input_absmax(fp, i, states, batches)));
      fp.run_block(i, states, nullptr);
    }
  }
  std::vector<torch::Tensor> params;
  for (auto& s : smoothing)
    for (const torch::Tensor& t : s.trainable()) params.push_back(t);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(0));
  torch::AutoGradMode grad(true);
  auto epoch_means = [&](bool train) {
    double loss = 0, pull = 0, push = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      if (o.progress.cancel) o.progress.cancel->check();
      Params t = full;
      for (int64_t i = 0; i < c.num_layers; ++i) t = merged(t, fake_quantized_layer(cq, layers[size_t(i)], i, &smoothing[size_t(i)], {}, o.scheme, o.mix));
      Llama q(cq, t);
      q.set_runtime_bits(o.scheme.a_bits, o.scheme.q_bits, o.scheme.kv_bits);
      const AaqLoss l = aaq_loss(q.forward(batches[b].tokens, batches[b].mask, nullptr), targets[b], batches[b].mask, o.lambda);
      if (train) {
        opt.zero_grad();
        l.loss.backward();
        opt.step();
      }
      loss += l.loss.item<double>(), pull += l.pull.item<double>(), push += l.push.item<double>();
    }
    const double n = double(batches.size());
    return std::array<double, 3>{loss / n, pull / n, push / n};
  };
  auto describe = [](const std::array<double, 3>& m) {
    return "loss " + std::to_string(m[0]) + " (KL to the teacher " + std::to_string(m[1]) + ", KL to base " + std::to_string(m[2]) + ")";
  };
  auto evaluate = [&] {
    torch::NoGradGuard no_grad;
    return epoch_means(false);
  };
  // The straight-through gradient is noisy: the scales of the best epoch are kept.
  const auto before = evaluate();
  auto best = before;
  int best_epoch = 0;
  std::vector<LayerSmoothing> kept;
  for (const auto& s : smoothing) kept.push_back(s.detached());
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    o.progress.step(epoch, o.epochs, "aaq epochs");
    epoch_means(true);
    const auto now = evaluate();
    result.loss_curve.emplace_back("aaq", now[0]);
    if (o.on_loss) o.on_loss("aaq", now[0]);
    if (now[0] < best[0]) {
      best = now, best_epoch = epoch + 1;
      for (size_t i = 0; i < smoothing.size(); ++i) kept[i] = smoothing[i].detached();
    }
  }
  result.notes.push_back("aaq before training: " + describe(before));
  result.notes.push_back("aaq best (epoch " + std::to_string(best_epoch) + " of " + std::to_string(o.epochs) + "): " + describe(best));
  result.aaq_before = {before[0], before[1], before[2]};
  result.aaq_after = {best[0], best[1], best[2]};
  smoothing = kept;
  return smoothing;
}

}  // namespace sq
