#include "core/quant/aaq.h"

#include "core/run/torch_device.h"

namespace sq {

AaqTargets aaq_targets(const torch::Tensor& fp_logits, const torch::Tensor& base_logits, int64_t top_k) {
  const int64_t k = std::min<int64_t>(top_k, fp_logits.size(-1));
  const torch::Tensor index = std::get<1>(fp_logits.topk(k, -1));
  return {index, torch::log_softmax(fp_logits.gather(-1, index), -1).detach(),
          torch::log_softmax(base_logits.gather(-1, index), -1).detach()};
}

AaqLoss aaq_loss(const torch::Tensor& q_logits, const AaqTargets& t, const torch::Tensor& mask, double lambda) {
  const torch::Tensor q_logp = torch::log_softmax(q_logits.gather(-1, t.index), -1);
  const torch::Tensor m = mask.defined() ? mask.to(torch::kFloat32) : torch::ones(q_logits.sizes().slice(0, 2), beside(q_logits));
  const torch::Tensor n = m.sum().clamp_min(1);
  auto kl = [&](const torch::Tensor& logp) { return ((logp.exp() * (logp - q_logp)).sum(-1) * m).sum() / n; };
  AaqLoss l;
  l.pull = kl(t.fp_logp);
  l.push = kl(t.base_logp);
  l.loss = l.pull - lambda * l.push;
  return l;
}

}  // namespace sq
