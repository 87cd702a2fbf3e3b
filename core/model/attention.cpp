#include "core/model/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sq {

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& key_mask, int64_t scores_per_block) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), S = k.size(2), past = S - T;
  torch::Tensor keys = k, values = v;
  if (H > k.size(1)) {
    const int64_t groups = H / k.size(1);
    keys = k.repeat_interleave(groups, 1);
    values = v.repeat_interleave(groups, 1);
  }
  const auto ints = torch::TensorOptions(torch::kInt64).device(q.device());
  const int64_t rows = std::clamp<int64_t>(scores_per_block / std::max<int64_t>(1, B * H * S), 1, T);
  const float lowest = std::numeric_limits<float>::lowest();
  std::vector<torch::Tensor> out;
  for (int64_t q0 = 0; q0 < T; q0 += rows) {
    const int64_t n = std::min(rows, T - q0), seen = past + q0 + n;  // keys the block's last row may see
    const torch::Tensor query_pos = torch::arange(past + q0, seen, ints).unsqueeze(1);
    const torch::Tensor key_pos = torch::arange(0, seen, ints).unsqueeze(0);
    torch::Tensor allowed = (key_pos <= query_pos).unsqueeze(0);  // [1, n, seen]
    if (key_mask.defined()) allowed = allowed & key_mask.narrow(1, 0, seen).unsqueeze(1);
    allowed = allowed | (key_pos == query_pos).unsqueeze(0);
    const torch::Tensor bias = torch::zeros({allowed.size(0), n, seen}, q.options().requires_grad(false))
                                   .masked_fill(allowed.logical_not(), lowest)
                                   .unsqueeze(1);  // [B or 1, 1, n, seen]
    const torch::Tensor kb = seen == S ? keys : keys.narrow(2, 0, seen);
    const torch::Tensor vb = seen == S ? values : values.narrow(2, 0, seen);
    const torch::Tensor qb = n == T ? q : q.narrow(2, q0, n);
    const torch::Tensor scores = torch::matmul(qb, kb.transpose(-1, -2)) / std::sqrt(double(D)) + bias;
    out.push_back(torch::matmul(torch::softmax(scores, -1), vb));
  }
  const torch::Tensor attn = out.size() == 1 ? out.front() : torch::cat(out, 2);
  return attn.transpose(1, 2).reshape({B, T, H * D});
}

}  // namespace sq
