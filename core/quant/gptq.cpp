#include "core/quant/gptq.h"

#include <vector>

#include "core/error.h"
#include "kernels/weight_quant.h"

namespace sq {

void HessianAccumulator::add(const torch::Tensor& x) {
  const torch::Tensor xs = x.detach().to(H_.scalar_type()).reshape({-1, x.size(-1)});
  H_.addmm_(xs.t(), xs);
  n_ += xs.size(0);
}

namespace {

// The upper Cholesky factor of H^-1, damping more until H is positive definite.
bool inverse_cholesky(torch::Tensor H, double damp, torch::Tensor& out, double& used) {
  const double mean_diag = H.diagonal().mean().item<double>();
  for (int attempt = 0; attempt < 6; ++attempt, damp *= 10) {
    const torch::Tensor Hd = H + torch::eye(H.size(0), beside(H)) * (damp * std::max(mean_diag, 1e-8));
    auto [L, info] = torch::linalg_cholesky_ex(Hd);
    if (info.item<int64_t>() != 0) continue;
    auto [U, info2] = torch::linalg_cholesky_ex(torch::cholesky_inverse(L), /*upper=*/true);
    if (info2.item<int64_t>() != 0) continue;
    out = U;
    used = damp;
    return true;
  }
  return false;
}

}  // namespace

GptqResult gptq_quantize(const torch::Tensor& w_in, const torch::Tensor& hessian, const QuantScheme& s,
                         const GptqOptions& o) {
  torch::NoGradGuard no_grad;
  GptqResult r;
  const int64_t rows = w_in.size(0), cols = w_in.size(1);
  if (s.group < 0) throw Error("GPTQ does not support per-tensor grids; use per-channel or groups");
  if (o.act_order && s.group > 0) throw Error("GPTQ act-order is supported with per-channel grids only");
  const torch::ScalarType dtype = hessian.scalar_type();
  torch::Tensor W = w_in.detach().to(dtype).clone();
  torch::Tensor H = hessian.clone();
  // Inputs that never fire carry no information: pin their weights to zero.
  const torch::Tensor dead = H.diagonal() == 0;
  H.diagonal().masked_fill_(dead, 1);
  W.index_put_({torch::indexing::Slice(), dead}, 0);
  torch::Tensor perm;
  if (o.act_order) {
    perm = torch::argsort(H.diagonal(), 0, /*descending=*/true);
    W = W.index_select(1, perm);
    H = H.index_select(0, perm).index_select(1, perm);
  }
  torch::Tensor U;
  if (!inverse_cholesky(H, o.damp, U, r.damp_used)) {
    r.note = "Hessian not positive definite even with 1e5x damping; fell back to round-to-nearest";
    r.weight = quantize_weight(w_in, s);
    return r;
  }
  if (r.damp_used > o.damp) r.note = "Hessian needed damping " + std::to_string(r.damp_used) + " to be positive definite";

  const int64_t g = group_width(s, rows, cols);
  // Per-channel grids take their parameters from the whole (unmodified) row; group grids from the
  // group's columns when the group is reached.
  std::vector<kernels::GroupParams> params(static_cast<size_t>(rows));
  const int64_t groups = cols / g;
  // host: the column loop below runs on the CPU, element by element
  torch::Tensor scales = torch::empty({rows, groups}, host()), zeros = torch::empty({rows, groups}, host());
  auto fix_params = [&](int64_t col) {
    const torch::Tensor block = W.narrow(1, col, g).to(torch::kCPU, torch::kFloat32).contiguous();  // host: the column loop runs there
    const float* b = block.data_ptr<float>();
    for (int64_t row = 0; row < rows; ++row) {
      params[size_t(row)] = kernels::group_params(b + row * g, g, s.w_bits, s.w_kind, 1.f);
      scales[row][col / g] = kernels::stored_scale(params[size_t(row)], s.w_kind);
      zeros[row][col / g] = params[size_t(row)].zero;
    }
  };
  torch::Tensor Q = torch::zeros_like(W);
  torch::Tensor codes = torch::empty({rows, cols}, host(torch::kInt32));
  std::vector<float> col_in(static_cast<size_t>(rows)), col_out(static_cast<size_t>(rows));
  std::vector<int32_t> col_codes(static_cast<size_t>(rows));
  for (int64_t i1 = 0; i1 < cols; i1 += o.block) {
    const int64_t i2 = std::min(cols, i1 + o.block), count = i2 - i1;
    // A block of columns goes to the host once and comes back once: the column loop rounds on the
    // CPU kernels, and reads U's diagonal there, with no transfer per column.
    torch::Tensor W1 = W.narrow(1, i1, count).to(torch::kCPU).contiguous();  // host: the column loop
    torch::Tensor Q1 = torch::empty_like(W1), Err = torch::zeros_like(W1);
    const torch::Tensor U1 = U.narrow(0, i1, count).narrow(1, i1, count).to(torch::kCPU).contiguous();  // host: as W1
    const torch::Tensor diag = U1.diagonal().to(torch::kFloat64).contiguous();
    const double* d = diag.data_ptr<double>();
    for (int64_t i = 0; i < count; ++i) {
      // As the reference implementation: a group's parameters come from W, which holds the updates
      // of earlier blocks (in-block updates live in W1 until the block ends).
      if ((i1 + i) % g == 0) fix_params(i1 + i);
      const torch::Tensor w = W1.select(1, i).to(torch::kFloat32).contiguous();
      std::copy_n(w.data_ptr<float>(), rows, col_in.begin());
      kernels::fake_quant_with_params(kernels::Device::Cpu, col_in.data(), col_out.data(), col_codes.data(), rows, params.data(),
                                      s.w_bits, s.w_kind);
      const torch::Tensor q = torch::from_blob(col_out.data(), {rows}, host()).to(dtype);
      Q1.select(1, i).copy_(q);
      codes.select(1, i1 + i).copy_(torch::from_blob(col_codes.data(), {rows}, host(torch::kInt32)));
      const torch::Tensor err = (W1.select(1, i) - q) / d[i];
      W1.narrow(1, i, count - i).sub_(torch::outer(err, U1[i].narrow(0, i, count - i)));
      Err.select(1, i).copy_(err);
    }
    W.narrow(1, i1, count).copy_(W1);
    Q.narrow(1, i1, count).copy_(Q1);
    if (i2 < cols) W.narrow(1, i2, cols - i2).sub_(torch::matmul(Err.to(W.device()), U.narrow(0, i1, count).narrow(1, i2, cols - i2)));
  }
  codes = codes.to(W.device());
  if (o.act_order) {
    const torch::Tensor inv = torch::argsort(perm);
    Q = Q.index_select(1, inv);
    codes = codes.index_select(1, inv);
  }
  r.weight.dequant = Q.to(torch::kFloat32);
  r.weight.codes = codes;
  r.weight.scales = scales.to(W.device());
  r.weight.zeros = zeros.to(W.device());
  return r;
}

}  // namespace sq
