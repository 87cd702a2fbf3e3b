#include "core/probe/slr.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace sq {
namespace {

// One layer's L1-regularized quadratic model, solved by cyclic coordinate descent (GLMNET's
// subproblem): min_d  G.d + 1/2 d'Hd + sum_j |x_j + d_j|  over K+1 coordinates, the last one
// the intercept. H is (K+1)x(K+1) row-major; returns d.
void solve_quadratic(const double* G, const double* H, const double* x, int64_t K1, const std::vector<bool>& used,
                     double* d, int sweeps) {
  std::vector<double> Hd(static_cast<size_t>(K1), 0.0);
  std::fill(d, d + K1, 0.0);
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    double biggest = 0;
    for (int64_t j = 0; j < K1; ++j) {
      if (!used[static_cast<size_t>(j)]) continue;
      const double a = H[j * K1 + j] + 1e-12;
      const double g = G[j] + Hd[static_cast<size_t>(j)];
      const double u = x[j] + d[j];
      double z;
      if (g + 1 <= a * u)
        z = -(g + 1) / a;
      else if (g - 1 >= a * u)
        z = -(g - 1) / a;
      else
        z = -u;
      if (z == 0) continue;
      d[j] += z;
      const double* col = H + j * K1;  // symmetric: row j is column j
      for (int64_t k = 0; k < K1; ++k) Hd[static_cast<size_t>(k)] += z * col[k];
      biggest = std::max(biggest, std::fabs(z) * std::sqrt(a));
    }
    if (biggest < 1e-10) break;
  }
}

}  // namespace

torch::Tensor slr_objective(const torch::Tensor& X, const torch::Tensor& y, const torch::Tensor& w, const torch::Tensor& b,
                            double C) {
  const torch::Tensor s = (2 * y.to(torch::kFloat32) - 1).unsqueeze(0);                  // [1, N]
  const torch::Tensor z = torch::bmm(X, w.unsqueeze(-1)).squeeze(-1) + b.unsqueeze(-1);  // [L, N]
  return w.abs().sum(-1) + b.abs() + C * torch::softplus(-s * z).sum(-1);
}

SlrFit fit_slr(const torch::Tensor& X_in, const torch::Tensor& y, const SlrOptions& o, const Progress& progress) {
  torch::NoGradGuard no_grad;
  if (X_in.dim() != 3 || y.dim() != 1 || X_in.size(1) != y.size(0)) throw Error("SLR: X must be [L, N, D] and y [N]");
  const int64_t pos = y.sum().item<int64_t>(), N = y.size(0);
  if (pos == 0 || pos == N) throw Error("SLR needs both malicious and benign samples in the training split");
  if (o.C <= 0) throw Error("SLR: C must be positive");
  torch::Tensor X = X_in.to(torch::kFloat32);
  torch::Tensor mu, sd;
  if (o.standardize) {
    mu = X.mean(1, true);
    sd = X.std(1, false, true).clamp_min(1e-6);
    X = (X - mu) / sd;
  }
  const int64_t L = X.size(0), D = X.size(2);
  const torch::Tensor s = (2 * y.to(torch::kFloat32) - 1).unsqueeze(0);  // [1, N]
  const double C = o.C;

  // The L1 solution is sparse, so each layer is solved on a working set: the features that are
  // nonzero or violate the optimality condition |d loss / d w_j| <= 1, checked on all features
  // once per round (the only full-width products). Within a round: proximal Newton steps with
  // the Hessian on the working set (batched over layers in LibTorch), each subproblem solved by
  // coordinate descent per layer, then a backtracking line search.
  torch::Tensor w = torch::zeros({L, D}), b = torch::zeros({L});
  SlrFit fit;
  const int kMaxRounds = 50;
  // Rounds that add features are solved loosely (their solution only seeds the next round); once
  // no feature violates the conditions, one more round is solved to the full tolerance.
  bool loose = true;
  for (int round = 0; round < kMaxRounds; ++round) {
    const torch::Tensor z = torch::bmm(X, w.unsqueeze(-1)).squeeze(-1) + b.unsqueeze(-1);
    const torch::Tensor grad = torch::bmm((-C * s * torch::sigmoid(-s * z)).unsqueeze(1), X).squeeze(1);  // [L, D]
    const torch::Tensor active = w != 0;
    const torch::Tensor violating = (grad.abs() > 1 + o.kkt_tol) & active.logical_not();
    progress.step(round, kMaxRounds, "fitting probes");
    if (round > 0 && violating.sum().item<int64_t>() == 0) {
      if (!loose) break;
      loose = false;
    }
    // Keep the active features; add the strongest violators (up to 256, or as many again).
    const torch::Tensor n_active = active.sum(1);
    const torch::Tensor n_used = n_active + torch::minimum(violating.sum(1), torch::clamp_min(n_active, 256));
    const int64_t K = std::max<int64_t>(1, std::min<int64_t>(D, n_used.max().item<int64_t>()));
    const torch::Tensor score = torch::where(active, torch::full_like(grad, INFINITY),
                                             torch::where(violating, grad.abs(), torch::full_like(grad, -INFINITY)));
    const auto [top, idx] = score.topk(K, 1);  // [L, K]
    const torch::Tensor used = (torch::arange(K).unsqueeze(0) < n_used.unsqueeze(1)) & (top > -INFINITY);
    // The working columns plus a column of ones for the intercept: [L, N, K + 1].
    const torch::Tensor Xk = torch::cat({X.gather(2, idx.unsqueeze(1).expand({L, N, K})), torch::ones({L, N, 1})}, 2);
    const torch::Tensor used1 = torch::cat({used, torch::ones({L, 1}, torch::kBool)}, 1).contiguous();
    torch::Tensor x = torch::cat({w.gather(1, idx) * used, b.unsqueeze(1)}, 1);  // [L, K + 1]

    torch::Tensor zk = torch::bmm(Xk, x.unsqueeze(-1)).squeeze(-1);
    torch::Tensor F = x.abs().sum(1) + C * torch::softplus(-s * zk).sum(1);
    for (int newton = 0; newton < o.max_newton; ++newton) {
      ++fit.iterations;
      const torch::Tensor sig = torch::sigmoid(-s * zk);
      const torch::Tensor g = -C * s * sig;                       // d loss / dz
      const torch::Tensor h = C * sig * (1 - sig);                // d2 loss / dz2
      const torch::Tensor G = torch::bmm(g.unsqueeze(1), Xk).squeeze(1).to(torch::kFloat64).contiguous();
      const torch::Tensor H = torch::bmm(Xk.transpose(1, 2) * h.unsqueeze(1), Xk).to(torch::kFloat64).contiguous();
      const torch::Tensor xd = x.to(torch::kFloat64).contiguous();
      torch::Tensor d = torch::zeros({L, K + 1}, torch::kFloat64);
      const int64_t K1 = K + 1;
      const bool* used_p = used1.data_ptr<bool>();
      at::parallel_for(0, L, 1, [&](int64_t begin, int64_t end) {
        for (int64_t l = begin; l < end; ++l) {
          std::vector<bool> u(used_p + l * K1, used_p + (l + 1) * K1);
          solve_quadratic(G.data_ptr<double>() + l * K1, H.data_ptr<double>() + l * K1 * K1, xd.data_ptr<double>() + l * K1,
                          K1, u, d.data_ptr<double>() + l * K1, o.max_cd_sweeps);
        }
      });
      const torch::Tensor df = d.to(torch::kFloat32);
      // Predicted decrease (GLMNET's Delta) and an Armijo backtracking line search per layer.
      const torch::Tensor delta = (G * d).sum(1).to(torch::kFloat32) + (x + df).abs().sum(1) - x.abs().sum(1);
      const torch::Tensor dz = torch::bmm(Xk, df.unsqueeze(-1)).squeeze(-1);
      torch::Tensor alpha = torch::ones({L});
      torch::Tensor accepted = torch::zeros({L}, torch::kBool);
      torch::Tensor F_new = F.clone();
      for (int ls = 0; ls < 30 && !accepted.all().item<bool>(); ++ls) {
        const torch::Tensor xa = x + alpha.unsqueeze(1) * df;
        const torch::Tensor Fa = xa.abs().sum(1) + C * torch::softplus(-s * (zk + alpha.unsqueeze(1) * dz)).sum(1);
        const torch::Tensor ok = (Fa <= F + 0.01 * alpha * delta) & accepted.logical_not();
        F_new = torch::where(ok, Fa, F_new);
        accepted = accepted | ok;
        alpha = torch::where(accepted, alpha, alpha * 0.5);
      }
      const torch::Tensor step = torch::where(accepted, alpha, torch::zeros_like(alpha)).unsqueeze(1);
      x = x + step * df;
      zk = zk + step * dz;
      const double change = ((F - F_new).abs() / F_new.abs().clamp_min(1e-12)).max().item<double>();
      F = torch::where(accepted, F_new, F);
      if (change < (loose ? std::max(o.tol, 1e-3) : o.tol)) break;
    }
    w = torch::zeros({L, D}).scatter(1, idx, x.narrow(1, 0, K) * used);
    b = x.select(1, K).clone();
  }
  fit.objective = slr_objective(X, y, w, b, C);
  if (o.standardize) {
    const torch::Tensor sd2 = sd.squeeze(1), mu2 = mu.squeeze(1);  // [L, D]
    fit.w = w / sd2;
    fit.b = b - (w * mu2 / sd2).sum(-1);
  } else {
    fit.w = w;
    fit.b = b;
  }
  return fit;
}

}  // namespace sq
