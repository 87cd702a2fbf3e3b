#include "core/probe/slr.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
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

// Reductions keep eight partial sums: they vectorize without reassociating a single sum.
inline float sum_of_eight(const float* acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// sum_i a_i b_i
SQ_VECTOR_CLONES float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  float s = sum_of_eight(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// sum_i h_i x_i^2
SQ_VECTOR_CLONES float weighted_square_sum(const float* h, const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += h[i + k] * x[i + k] * x[i + k];
  float s = sum_of_eight(acc);
  for (; i < n; ++i) s += h[i] * x[i] * x[i];
  return s;
}

// y += a * x, elementwise.
SQ_VECTOR_CLONES void add_scaled(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// y += a * h * x, elementwise.
SQ_VECTOR_CLONES void add_scaled_product(float* y, float a, const float* h, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * h[i] * x[i];
}

double softplus(double t) { return std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t))); }

// One layer's L1-regularized quadratic model (GLMNET's subproblem)
//   min_d  G.d + 1/2 d' X'DX d + sum_j |x_j + d_j|
// over the K1 working coordinates, by cyclic coordinate descent on the data: `rows` holds the
// working columns as rows [K1, N], h the diagonal D. Keeping D X d as a vector costs O(N) per
// coordinate instead of forming the K1^2 Hessian at O(N K1^2). Coordinates that sit at zero with
// a clearly sub-threshold gradient are skipped until a final full sweep.
void solve_quadratic(const float* rows, const float* h, const double* G, const double* x, int64_t K1, int64_t N, double* d,
                     int sweeps, double tol) {
  std::vector<double> a(static_cast<size_t>(K1));
  std::vector<float> dxd(static_cast<size_t>(N), 0.f);  // D X d
  for (int64_t j = 0; j < K1; ++j) a[static_cast<size_t>(j)] = weighted_square_sum(h, rows + j * N, N) + 1e-12;
  std::vector<char> skip(static_cast<size_t>(K1), 0);
  std::fill(d, d + K1, 0.0);
  double first = -1;
  bool full = false;
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    double biggest = 0;
    for (int64_t j = 0; j < K1; ++j) {
      if (skip[static_cast<size_t>(j)] && !full) continue;
      const float* xj = rows + j * N;
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

// One layer's working set: its features, their columns as rows [K + 1, N] with a last row of
// ones (the intercept), their weights x [K + 1] (the intercept last) and the margins z = X w + b.
struct WorkingSet {
  std::vector<int64_t> features;
  std::vector<float> rows, spare;  // spare: the previous round's rows, kept for their capacity
  std::vector<double> x{0.0};
  bool strict = false;  // solved to the full tolerance on this set
  bool done = false;    // and nothing outside it violates the optimality conditions
  int newton_steps = 0;
};

// Moves layer l's working set to `features`: rows of features already in it are copied, the
// others read from X [N, D] row by row, new columns in column order, so each row of X is read
// front to back and the destination lines of consecutive rows stay in cache.
void rebuild_rows(WorkingSet& ws, const float* X, int64_t N, int64_t D, std::vector<int64_t> features) {
  std::sort(features.begin(), features.end());
  const int64_t K = static_cast<int64_t>(features.size());
  std::swap(ws.rows, ws.spare);
  ws.rows.resize(static_cast<size_t>((K + 1) * N));
  std::vector<double> x(static_cast<size_t>(K + 1), 0.0);
  x[static_cast<size_t>(K)] = ws.x.back();
  std::vector<int64_t> fresh, cols;
  size_t p = 0;  // both lists are sorted: merge
  for (int64_t k = 0; k < K; ++k) {
    while (p < ws.features.size() && ws.features[p] < features[static_cast<size_t>(k)]) ++p;
    if (p < ws.features.size() && ws.features[p] == features[static_cast<size_t>(k)]) {
      std::copy_n(ws.spare.data() + p * N, N, ws.rows.data() + k * N);
      x[static_cast<size_t>(k)] = ws.x[p];
    } else {
      fresh.push_back(k);
      cols.push_back(features[static_cast<size_t>(k)]);
    }
  }
  float* out = ws.rows.data();
  for (int64_t n = 0; n < N; ++n) {
    const float* row = X + n * D;
    for (size_t f = 0; f < fresh.size(); ++f) out[fresh[f] * N + n] = row[cols[f]];
  }
  std::fill(out + K * N, out + (K + 1) * N, 1.f);
  ws.features = std::move(features);
  ws.x = std::move(x);
}

// Proximal Newton (as GLMNET and liblinear's newGLMNET) on one layer's working set, from its
// current weights: each quadratic model solved by coordinate descent, then an Armijo
// backtracking line search on the objective. Updates ws.x and the margins z [N].
void newton(WorkingSet& ws, const float* s, float* z, int64_t N, double C, const SlrOptions& o, bool loose) {
  const int64_t K1 = static_cast<int64_t>(ws.x.size());
  const float* rows = ws.rows.data();
  std::vector<float> gz(static_cast<size_t>(N)), h(static_cast<size_t>(N)), dz(static_cast<size_t>(N));
  std::vector<double> G(static_cast<size_t>(K1)), d(static_cast<size_t>(K1));
  double* x = ws.x.data();
  auto l1 = [&](double alpha) {
    double r = 0;
    for (int64_t j = 0; j < K1; ++j) r += std::fabs(x[j] + alpha * d[j]);
    return r;
  };
  auto loss = [&](double alpha) {
    double r = 0;
    for (int64_t i = 0; i < N; ++i) r += softplus(-double(s[i]) * (double(z[i]) + alpha * dz[i]));
    return C * r;
  };
  double F = l1(0) + loss(0);
  for (int step = 0; step < o.max_newton; ++step) {
    ++ws.newton_steps;
    for (int64_t i = 0; i < N; ++i) {
      const double sig = 1 / (1 + std::exp(double(s[i]) * z[i]));  // sigmoid(-s z)
      gz[i] = float(-C * s[i] * sig);                                 // d loss / dz
      h[i] = float(C * sig * (1 - sig));                              // d2 loss / dz2
    }
    for (int64_t j = 0; j < K1; ++j) G[j] = dot(rows + j * N, gz.data(), N);
    solve_quadratic(rows, h.data(), G.data(), x, K1, N, d.data(), o.max_cd_sweeps, loose ? 3e-2 : 1e-3);
    std::fill(dz.begin(), dz.end(), 0.f);
    double delta = 0;  // the predicted decrease, GLMNET's Delta
    for (int64_t j = 0; j < K1; ++j) {
      if (d[j] == 0) continue;
      add_scaled(dz.data(), float(d[j]), rows + j * N, N);
      delta += G[j] * d[j];
    }
    delta += l1(1) - l1(0);
    double alpha = 1, F_new = F;
    bool accepted = false;
    for (int ls = 0; ls < 30; ++ls, alpha *= 0.5) {
      F_new = l1(alpha) + loss(alpha);
      accepted = F_new <= F + 0.01 * alpha * delta;
      if (accepted) break;
    }
    if (!accepted) break;
    for (int64_t j = 0; j < K1; ++j) x[j] += alpha * d[j];
    add_scaled(z, float(alpha), dz.data(), N);
    const double change = std::fabs(F - F_new) / std::max(std::fabs(F_new), 1e-12);
    F = F_new;
    if (change < (loose ? std::max(o.tol, 1e-3) : o.tol)) break;
  }
}

}  // namespace

torch::Tensor slr_objective(const torch::Tensor& X, const torch::Tensor& y, const torch::Tensor& w, const torch::Tensor& b,
                            double C) {
  const torch::Tensor s = (2 * y.to(torch::kFloat32) - 1).unsqueeze(0);                  // [1, N]
  const torch::Tensor z = b.unsqueeze(-1).repeat({1, X.size(1)});  // [L, N]
  for (int64_t l = 0; l < X.size(0); ++l) z[l].addmv_(X[l], w[l]);
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
  X = X.contiguous();
  const int64_t L = X.size(0), D = X.size(2);
  const torch::Tensor s = (2 * y.to(torch::kFloat32) - 1).contiguous();  // [N]
  const double C = o.C;

  // The L1 solution is sparse, so each layer is solved on a working set: the features that are
  // nonzero or violate the optimality condition |d loss / d w_j| <= 1. The layers advance in
  // rounds together: each round checks the condition on all features of every open layer (the
  // one full-width product), then every layer whose set changed, or that was solved only
  // loosely, is solved on its set, layers in parallel and each at its own pace (their sets
  // differ in size several times over, so padding them to one batch tripled the work). Rounds
  // that add features are solved loosely (their solution only seeds the next round); a layer is
  // done once a full-tolerance solve leaves nothing violating.
  std::vector<WorkingSet> sets(static_cast<size_t>(L));
  torch::Tensor z = torch::zeros({L, N});  // the margins X w + b, kept from the working sets
  const int kMaxRounds = 50;
  for (int round = 0; round < kMaxRounds; ++round) {
    // |d loss / d w| for the layers still open; one matrix-vector product per layer (measured
    // twice as fast here as the same products as one batched bmm).
    const torch::Tensor gz = -C * s * torch::sigmoid(-s * z);  // [L, N]
    const torch::Tensor grad = torch::empty({L, D});
    for (int64_t l = 0; l < L; ++l) {
      if (sets[static_cast<size_t>(l)].done) continue;
      torch::Tensor row = grad[l];
      torch::mv_out(row, X[l].t(), gz[l]).abs_();
    }
    std::vector<int64_t> todo;
    std::vector<std::vector<int64_t>> next(static_cast<size_t>(L));
    for (int64_t l = 0; l < L; ++l) {
      WorkingSet& ws = sets[static_cast<size_t>(l)];
      if (ws.done) continue;
      // Keep the nonzero features; add the strongest violators (up to 512, or as many again).
      std::vector<char> in(static_cast<size_t>(D), 0);
      std::vector<int64_t>& keep = next[static_cast<size_t>(l)];
      for (size_t k = 0; k < ws.features.size(); ++k)
        if (ws.x[k] != 0) {
          keep.push_back(ws.features[k]);
          in[static_cast<size_t>(ws.features[k])] = 1;
        }
      const float* g = grad.data_ptr<float>() + l * D;
      std::vector<int64_t> violating;
      for (int64_t j = 0; j < D; ++j) {
        // Each gradient touches its whole column, so a NaN or infinity anywhere in the layer's
        // activations shows here already in the first round.
        if (!std::isfinite(g[j]))
          throw Error("SLR: the activations of layer " + std::to_string(l) + " hold NaN or infinite values");
        if (!in[static_cast<size_t>(j)] && g[j] > 1 + o.kkt_tol) violating.push_back(j);
      }
      if (violating.empty() && ws.strict) {
        ws.done = true;
        continue;
      }
      const size_t budget = std::min(violating.size(), std::max<size_t>(keep.size(), 512));
      std::partial_sort(violating.begin(), violating.begin() + static_cast<std::ptrdiff_t>(budget), violating.end(),
                        [&](int64_t a, int64_t b) { return g[a] > g[b]; });
      keep.insert(keep.end(), violating.begin(), violating.begin() + static_cast<std::ptrdiff_t>(budget));
      ws.strict = violating.empty();
      todo.push_back(l);
    }
    progress.step(L - static_cast<int64_t>(todo.size()), L, "fitting probes");
    if (todo.empty()) break;
    // Layers are taken one at a time from a shared counter, so a thread that drew small
    // problems takes more of them.
    std::atomic<size_t> taken{0};
    at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) {
      for (size_t t; (t = taken++) < todo.size();) {
        const int64_t l = todo[t];
        WorkingSet& ws = sets[static_cast<size_t>(l)];
        rebuild_rows(ws, X.data_ptr<float>() + l * N * D, N, D, std::move(next[static_cast<size_t>(l)]));
        newton(ws, s.data_ptr<float>(), z.data_ptr<float>() + l * N, N, C, o, !ws.strict);
      }
    });
  }
  torch::Tensor w = torch::zeros({L, D}), b = torch::zeros({L});
  SlrFit fit;
  auto wa = w.accessor<float, 2>();
  auto ba = b.accessor<float, 1>();
  for (int64_t l = 0; l < L; ++l) {
    const WorkingSet& ws = sets[static_cast<size_t>(l)];
    for (size_t k = 0; k < ws.features.size(); ++k) wa[l][ws.features[k]] = float(ws.x[k]);
    ba[l] = float(ws.x.back());
    fit.iterations = std::max(fit.iterations, ws.newton_steps);
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
