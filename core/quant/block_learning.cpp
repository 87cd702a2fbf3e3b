#include "core/quant/block_learning.h"

#include "core/quant/lwc.h"
#include "core/quant/smoothing.h"
#include "core/run/torch_device.h"

namespace sq {

LearnedBlock learn_block(const ModelConfig& cq, const std::shared_ptr<const Checkpoint>& weights, const Params& globals,
                         const Params& layer, int64_t i, int epochs, const std::vector<Llama::State>& states,
                         const std::vector<Llama::State>& target, const std::vector<Llama::Batch>& batches,
                         const std::vector<torch::Tensor>& malicious, const std::vector<LayerProbe>& probes, const QuantizeOptions& o,
                         QuantizeResult& result) {
  const torch::Device dev = torch_device(o.device);
  const Llama fp(cq, weights, dev, merged(globals, layer));
  Params theta;
  std::vector<torch::Tensor> params;
  for (const auto& [name, w] : layer)
    if (const QuantScheme* s = o.scheme_for(name)) {
      theta[name] = torch::full_like(clip_shape(w, *s), 4.0).set_requires_grad(true);  // sigmoid(4) = 0.982, OmniQuant's start
      params.push_back(theta[name]);
    }
  LearnedBlock out;
  std::vector<torch::Tensor> scales;
  if (o.smooth) {
    out.smoothing = init_smoothing(cq, layer, i, input_absmax(fp, i, states, batches));
    scales = out.smoothing->trainable();
  }
  BlockObjective objective;
  if (o.method == QuantMethod::QRealign) {
    objective.q_realign = true;
    objective.probe_w = torch::tensor(probes[size_t(i)].w, torch::TensorOptions().device(dev));
    objective.probe_b = probes[size_t(i)].b;
  }
  // OmniQuant's learning rates: clipping o.lr, smoothing a tenth of it (scales move the whole
  // block's function, clip factors one group's range).
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(0)));
  if (!scales.empty())
    groups.emplace_back(scales, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr / 10).weight_decay(0)));
  torch::optim::AdamW opt(std::move(groups));
  torch::AutoGradMode grad(true);
  double first = 0, last = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    double sum = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      if (o.progress.cancel) o.progress.cancel->check();  // training a block can take a while
      Llama qnet(cq, weights, dev, merged(globals, fake_quantized_layer(cq, layer, i, out.smoothing ? &*out.smoothing : nullptr, theta, o.scheme, o.mix)));
      qnet.set_runtime_bits(o.scheme.a_bits, o.scheme.q_bits, o.scheme.kv_bits);
      std::vector<Llama::State> one = {states[b]};
      qnet.run_block(i, one, nullptr);
      const torch::Tensor loss = block_loss(one[0].x, target[b].x, batches[b].mask, malicious[b], objective);
      opt.zero_grad();
      loss.backward();
      opt.step();
      sum += loss.item<double>();
    }
    last = sum / double(batches.size());
    if (epoch == 0) first = last;
    result.loss_curve.emplace_back("layer " + std::to_string(i), last);
    if (o.on_loss) o.on_loss("layer " + std::to_string(i), last);
  }
  result.notes.push_back("layer " + std::to_string(i) + ": " + info(o.method).name + " block loss " + std::to_string(first) + " (first epoch) -> " +
                         std::to_string(last) + " (last)");
  for (const auto& [name, t] : theta) out.clips[name] = torch::sigmoid(t).detach();
  if (out.smoothing) out.smoothing = out.smoothing->detached();
  return out;
}

}  // namespace sq
