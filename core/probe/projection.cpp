#include "core/probe/projection.h"

#include <cmath>

#include "core/error.h"
#include "core/run/torch_device.h"

namespace sq {
namespace {

// Top-k orthonormal principal directions [k, D] of centered X [N, D].
torch::Tensor top_directions(const torch::Tensor& Xc, int64_t k) {
  const int64_t N = Xc.size(0), D = Xc.size(1);
  torch::Tensor dirs;
  if (D <= N) {
    const auto [vals, vecs] = torch::linalg_eigh(torch::matmul(Xc.t(), Xc).to(torch::kFloat64));
    dirs = vecs.narrow(1, D - k, k).flip({1}).t();
  } else {
    const auto [vals, vecs] = torch::linalg_eigh(torch::matmul(Xc, Xc.t()).to(torch::kFloat64));
    dirs = torch::matmul(vecs.narrow(1, N - k, k).flip({1}).t(), Xc.to(torch::kFloat64));
    dirs = dirs / dirs.norm(2, 1, true).clamp_min(1e-30);
  }
  dirs = dirs.to(torch::kFloat32);
  // A fixed sign: the largest-magnitude component of each axis is positive.
  const torch::Tensor idx = dirs.abs().argmax(1, true);
  return dirs * torch::sign(dirs.gather(1, idx));
}

}  // namespace

Basis2D pca_basis(const torch::Tensor& X_in) {
  const torch::Tensor X = X_in.to(torch::kFloat32);
  if (X.size(0) < 2) throw Error("a 2D projection needs at least two points");
  Basis2D b;
  b.method = "pca";
  b.mean = X.mean(0);
  b.axes = top_directions(X - b.mean, 2);
  return b;
}

Basis2D probe_plane_basis(const torch::Tensor& X_in, const torch::Tensor& w) {
  const torch::Tensor X = X_in.to(torch::kFloat32);
  const double norm = w.norm().item<double>();
  if (norm == 0) {
    Basis2D b = pca_basis(X);
    b.note = "the probe has no nonzero weight; showing PCA instead";
    return b;
  }
  Basis2D b;
  b.method = "probe-plane";
  b.mean = X.mean(0);
  const torch::Tensor u = w.to(torch::kFloat32) / norm;
  const torch::Tensor Xc = X - b.mean;
  const torch::Tensor residual = Xc - torch::outer(torch::matmul(Xc, u), u);
  torch::Tensor v = top_directions(residual, 1).squeeze(0);
  v = v - torch::dot(v, u) * u;  // exact orthogonality despite rounding
  b.axes = torch::stack({u, v / v.norm().clamp_min(1e-30)});
  return b;
}

torch::Tensor project_2d(const torch::Tensor& X, const Basis2D& basis) {
  return torch::matmul(X.to(torch::kFloat32) - basis.mean, basis.axes.t());
}

torch::Tensor tsne(const torch::Tensor& X_in, const TsneOptions& o, const torch::Tensor& init) {
  torch::NoGradGuard no_grad;
  const torch::Tensor X = X_in.to(torch::kFloat32);
  const int64_t N = X.size(0);
  if (N < 3) throw Error("t-SNE needs at least three points");
  const double perplexity = std::min(o.perplexity, double(N - 1) / 3.0);
  // Conditional probabilities at the target perplexity: a bisection on each row's precision.
  const torch::Tensor sq = X.pow(2).sum(1);
  const torch::Tensor D = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * torch::matmul(X, X.t())).clamp_min(0).to(torch::kFloat64);
  const torch::Tensor eye = torch::eye(N, beside(X, torch::kBool));
  // Distances relative to each row's nearest neighbour, so exp() cannot underflow to all zeros.
  const torch::Tensor Dm = (D - D.masked_fill(eye, INFINITY).amin(1, true)).masked_fill(eye, 0);
  const auto f64 = beside(X, torch::kFloat64);
  torch::Tensor lo = torch::zeros({N, 1}, f64), hi = torch::full({N, 1}, INFINITY, f64);
  torch::Tensor beta = torch::ones({N, 1}, f64);
  const double target = std::log(perplexity);
  torch::Tensor P;
  for (int it = 0; it < 100; ++it) {
    P = torch::exp(-Dm * beta).masked_fill(eye, 0);
    const torch::Tensor sumP = P.sum(1, true).clamp_min(1e-300);
    P = P / sumP;
    const torch::Tensor H = torch::log(sumP) + beta * (Dm * P).sum(1, true);  // entropy in nats
    const torch::Tensor too_flat = H > target;  // too high an entropy: sharpen (raise beta)
    lo = torch::where(too_flat, beta, lo);
    hi = torch::where(too_flat, hi, beta);
    beta = torch::where(torch::isinf(hi), beta * 2, (lo + hi) / 2);
  }
  P = (P + P.t()) / (2.0 * double(N));
  P = P.clamp_min(1e-12).to(torch::kFloat32);

  torch::Tensor Y;
  if (init.defined()) {
    Y = init.to(torch::kFloat32).clone();
  } else {
    const Basis2D b = pca_basis(X);
    Y = project_2d(X, b);
    Y = Y / Y.select(1, 0).std().clamp_min(1e-12) * 1e-4;
  }
  torch::Tensor update = torch::zeros_like(Y), gains = torch::ones_like(Y);
  const double lr = std::max(double(N) / 12.0 / 4.0, 50.0);
  const torch::Tensor eyef = torch::eye(N, beside(Y));
  for (int it = 0; it < o.iterations; ++it) {
    const double exaggeration = it < 250 ? 12.0 : 1.0;
    const double momentum = it < 250 ? 0.5 : 0.8;
    const torch::Tensor ysq = Y.pow(2).sum(1);
    const torch::Tensor num = (1.0 / (1.0 + (ysq.unsqueeze(1) + ysq.unsqueeze(0) - 2 * torch::matmul(Y, Y.t())).clamp_min(0))) * (1 - eyef);
    const torch::Tensor Q = (num / num.sum()).clamp_min(1e-12);
    const torch::Tensor W = (exaggeration * P - Q) * num;  // [N, N]
    const torch::Tensor grad = 4 * (W.sum(1, true) * Y - torch::matmul(W, Y));
    const torch::Tensor same = torch::sign(grad) == torch::sign(update);
    gains = torch::where(same, gains * 0.8, gains + 0.2).clamp_min(0.01);
    update = momentum * update - lr * gains * grad;
    Y = Y + update;
  }
  return Y - Y.mean(0);
}

}  // namespace sq
