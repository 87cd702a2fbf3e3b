#include "core/probe/slr.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace sq {
namespace {

// The coordinate-descent inner loops, built for AVX2 as well as the baseline and picked at load
// time (the package must run on any x86-64).
#if defined(__x86_64__) && defined(__GNUC__)
#define SQ_VECTOR_CLONES __attribute__((target_clones("avx2,fma", "default")))
#else
#define SQ_VECTOR_CLONES
#endif

SQ_VECTOR_CLONES float dot(const float* a, const float* b, int64_t n) {
  // Eight partial sums: vectorizes without reassociating a single sum.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// One layer's L1-regularized quadratic model (GLMNET's subproblem)
//   min_d  G.d + 1/2 d' X'DX d + sum_j |x_j + d_j|
// over K+1 coordinates (the last the intercept), by cyclic coordinate descent on the data: XT
// holds the working columns as rows [K+1, N], h the diagonal D. Keeping D X d as a vector costs
// O(N) per coordinate instead of forming the (K+1)^2 Hessian at O(N K^2). Coordinates that sit
// at zero with a clearly sub-threshold gradient are skipped until a final full sweep.
// y += a * h * x, elementwise.
SQ_VECTOR_CLONES void add_scaled_product(float* y, float a, const float* h, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * h[i] * x[i];
}

void solve_quadratic(const float* XT, const float* h, const double* G, const double* x, int64_t K1, int64_t N,
                     const bool* used, double* d, int sweeps, double tol) {
  std::vector<double> a(static_cast<size_t>(K1), 0.0);
  std::vector<float> dxd(static_cast<size_t>(N), 0.f);  // D X d
  for (int64_t j = 0; j < K1; ++j) {
    if (!used[j]) continue;
    const float* xj = XT + j * N;
    double s = 0;
    for (int64_t i = 0; i < N; ++i) s += double(h[i]) * xj[i] * xj[i];
    a[static_cast<size_t>(j)] = s + 1e-12;
  }
  std::vector<char> skip(static_cast<size_t>(K1), 0);
  std::fill(d, d + K1, 0.0);
  double first = -1;
  bool full = false;
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    double biggest = 0;
    for (int64_t j = 0; j < K1; ++j) {
      if (!used[j] || (skip[static_cast<size_t>(j)] && !full)) continue;
      const float* xj = XT + j * N;
      const double aj = a[static_cast<size_t>(j)];
      const double g = G[j] + dot(xj, dxd.data(), N);
      const double u = x[j] + d[j];
      double z;
      if (g + 1 <= aj * u)
        z = -(g + 1) / aj;
      else if (g - 1 >= aj * u)
        z = -(g - 1) / aj;
      else
        z = -u;
      skip[static_cast<size_t>(j)] = u == 0 && z == 0 && std::fabs(g) < 0.95;
      if (z == 0) continue;
      d[j] += z;
      add_scaled_product(dxd.data(), float(z), h, xj, N);
      biggest = std::max(biggest, std::fabs(z) * std::sqrt(aj));
    }
    if (first < 0) first = biggest;
    const bool converged = biggest <= std::max(1e-10, tol * first);
    if (converged && full) break;
    full = converged;  // converged on the kept coordinates: check all of them once more
  }
}

// Layer l's columns idx[l] of X [L, N, D] as rows of [L, K + 1, N], and a last row of ones (the
// intercept). Columns already in the previous round's rows are copied from there; the others
// are read from X sixteen samples at a time, so the reads stay in cache and each write fills a
// cache line.
// `out` is reused between rounds (a fresh allocation of this size costs more in page faults
// than the copy itself); the result is a view of it, batch stride out.stride(0).
torch::Tensor working_rows(const torch::Tensor& X, const torch::Tensor& idx, const torch::Tensor& prev_idx,
                           const torch::Tensor& prev_rows, torch::Tensor& storage) {
  const int64_t L = X.size(0), N = X.size(1), D = X.size(2), K = idx.size(1);
  const int64_t P = prev_idx.defined() ? prev_idx.size(1) : 0;
  if (!storage.defined() || storage.size(1) < K + 1) storage = torch::empty({L, K + 1 + K / 4, N});  // room to grow
  const torch::Tensor out = storage.narrow(1, 0, K + 1);
  const int64_t stride = out.stride(0), prev_stride = P ? prev_rows.stride(0) : 0;
  const torch::Tensor ic = idx.contiguous(), pc = P ? prev_idx.contiguous() : torch::Tensor();
  const float* x = X.data_ptr<float>();
  const int64_t* id = ic.data_ptr<int64_t>();
  float* o = out.data_ptr<float>();
  at::parallel_for(0, L, 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> where(static_cast<size_t>(D));
    for (int64_t l = begin; l < end; ++l) {
      float* ol = o + l * stride;
      const int64_t* il = id + l * K;
      std::fill(where.begin(), where.end(), -1);
      for (int64_t p = 0; p < P; ++p) where[static_cast<size_t>(pc.data_ptr<int64_t>()[l * P + p])] = p;
      std::vector<int64_t> fresh;
      for (int64_t k = 0; k < K; ++k) {
        const int64_t p = where[static_cast<size_t>(il[k])];
        if (p >= 0)
          std::copy_n(prev_rows.data_ptr<float>() + l * prev_stride + p * N, N, ol + k * N);
        else
          fresh.push_back(k);
      }
      // Row by row, the new columns in column order: each row is read front to back, and the
      // destination lines of consecutive rows stay in the first-level cache.
      std::sort(fresh.begin(), fresh.end(), [&](int64_t a, int64_t b) { return il[a] < il[b]; });
      std::vector<int64_t> cols(fresh.size());
      for (size_t f = 0; f < fresh.size(); ++f) cols[f] = il[fresh[f]];
      for (int64_t n = 0; n < N; ++n) {
        const float* row = x + (l * N + n) * D;
        for (size_t f = 0; f < fresh.size(); ++f) ol[fresh[f] * N + n] = row[cols[f]];
      }
      std::fill(ol + K * N, ol + (K + 1) * N, 1.f);
    }
  });
  return out;
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
  // once per round (the one full-width product; the margins come from the working set). Within a
  // round: proximal Newton steps (gradients and steps batched over layers in LibTorch), each
  // quadratic subproblem solved by coordinate descent on the working columns per layer, in
  // parallel over layers, then a backtracking line search.
  torch::Tensor w = torch::zeros({L, D}), b = torch::zeros({L});
  X = X.contiguous();
  torch::Tensor z = torch::zeros({L, N});  // the margins X w + b, kept from the working set
  SlrFit fit;
  const int kMaxRounds = 50;
  // Rounds that add features are solved loosely (their solution only seeds the next round); once
  // no feature violates the conditions, one more round is solved to the full tolerance.
  bool loose = true;
  torch::Tensor XkT, prev_idx;  // the working columns as rows [L, K + 1, N] and their features
  torch::Tensor storage[2];     // XkT alternates between two buffers: this round's and the last
  for (int round = 0; round < kMaxRounds; ++round) {
    const torch::Tensor grad = torch::bmm((-C * s * torch::sigmoid(-s * z)).unsqueeze(1), X).squeeze(1);  // [L, D]
    const torch::Tensor active = w != 0;
    const torch::Tensor violating = (grad.abs() > 1 + o.kkt_tol) & active.logical_not();
    progress.step(round, kMaxRounds, "fitting probes");
    if (round > 0 && violating.sum().item<int64_t>() == 0) {
      if (!loose) break;
      loose = false;
    }
    // Keep the active features; add the strongest violators (up to 512, or as many again).
    const torch::Tensor n_active = active.sum(1);
    const torch::Tensor n_used = n_active + torch::minimum(violating.sum(1), torch::clamp_min(n_active, 512));
    const int64_t K = std::max<int64_t>(1, std::min<int64_t>(D, n_used.max().item<int64_t>()));
    const torch::Tensor score = torch::where(active, torch::full_like(grad, INFINITY),
                                             torch::where(violating, grad.abs(), torch::full_like(grad, -INFINITY)));
    const auto [top, idx] = score.topk(K, 1);  // [L, K]
    const torch::Tensor used = (torch::arange(K).unsqueeze(0) < n_used.unsqueeze(1)) & (top > -INFINITY);
    // The working columns as rows, plus a row of ones for the intercept: [L, K + 1, N].
    XkT = working_rows(X, idx, prev_idx, XkT, storage[round % 2]);
    prev_idx = idx;
    const torch::Tensor used1 = torch::cat({used, torch::ones({L, 1}, torch::kBool)}, 1).contiguous();
    torch::Tensor x = torch::cat({w.gather(1, idx) * used, b.unsqueeze(1)}, 1);  // [L, K + 1]
    auto times = [&](const torch::Tensor& v) { return torch::bmm(v.unsqueeze(1), XkT).squeeze(1); };  // [L, N]

    torch::Tensor zk = times(x);
    torch::Tensor F = x.abs().sum(1) + C * torch::softplus(-s * zk).sum(1);
    for (int newton = 0; newton < o.max_newton; ++newton) {
      ++fit.iterations;
      const torch::Tensor sig = torch::sigmoid(-s * zk);
      const torch::Tensor g = -C * s * sig;                       // d loss / dz
      const torch::Tensor h = (C * sig * (1 - sig)).contiguous();  // d2 loss / dz2
      const torch::Tensor G = torch::bmm(XkT, g.unsqueeze(-1)).squeeze(-1).to(torch::kFloat64).contiguous();
      const torch::Tensor xd = x.to(torch::kFloat64).contiguous();
      torch::Tensor d = torch::zeros({L, K + 1}, torch::kFloat64);
      const int64_t K1 = K + 1;
      const bool* used_p = used1.data_ptr<bool>();
      at::parallel_for(0, L, 1, [&](int64_t begin, int64_t end) {
        for (int64_t l = begin; l < end; ++l)
          solve_quadratic(XkT.data_ptr<float>() + l * XkT.stride(0), h.data_ptr<float>() + l * N, G.data_ptr<double>() + l * K1,
                          xd.data_ptr<double>() + l * K1, K1, N, used_p + l * K1, d.data_ptr<double>() + l * K1, o.max_cd_sweeps,
                          loose ? 3e-2 : 1e-3);
      });
      const torch::Tensor df = d.to(torch::kFloat32);
      // Predicted decrease (GLMNET's Delta) and an Armijo backtracking line search per layer.
      const torch::Tensor delta = (G * d).sum(1).to(torch::kFloat32) + (x + df).abs().sum(1) - x.abs().sum(1);
      const torch::Tensor dz = times(df);
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
    z = zk;
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
