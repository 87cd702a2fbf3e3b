#include "core/probe/slr.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/run/torch_device.h"

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
                     int sweeps, double tol, bool penalize_last) {
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
      if (j == K1 - 1 && !penalize_last)  // the free intercept: a plain Newton step
        z = -g / aj;
      else if (g + 1 <= aj * u)
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

// Moves a problem's working set to `features`: rows of features already in it are copied, the
// others read from its samples' rows of X [M, D] one by one, new columns in column order, so each
// row of X is read front to back and the destination lines of consecutive rows stay in cache.
void rebuild_rows(WorkingSet& ws, const float* X, const std::vector<int64_t>& samples, int64_t D,
                  std::vector<int64_t> features) {
  const int64_t N = static_cast<int64_t>(samples.size());
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
    const float* row = X + samples[static_cast<size_t>(n)] * D;
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
  const int64_t penalized = o.penalize_intercept ? K1 : K1 - 1;  // the intercept is the last coordinate
  auto l1 = [&](double alpha) {
    double r = 0;
    for (int64_t j = 0; j < penalized; ++j) r += std::fabs(x[j] + alpha * d[j]);
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
    solve_quadratic(rows, h.data(), G.data(), x, K1, N, d.data(), o.max_cd_sweeps, loose ? 3e-2 : 1e-3, o.penalize_intercept);
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
                            double C, bool penalize_intercept) {
  const torch::Tensor s = (2 * y.to(torch::kFloat32) - 1).unsqueeze(0);                  // [1, N]
  const torch::Tensor z = b.unsqueeze(-1).repeat({1, X.size(1)});  // [L, N]
  for (int64_t l = 0; l < X.size(0); ++l) z[l].addmv_(X[l], w[l]);
  return w.abs().sum(-1) + (penalize_intercept ? b.abs() : torch::zeros_like(b)) + C * torch::softplus(-s * z).sum(-1);
}

SlrFit fit_slr(const torch::Tensor& X_in, const torch::Tensor& y, const std::vector<SlrProblem>& problems,
               const SlrOptions& o, const Progress& progress) {
  torch::NoGradGuard no_grad;
  if (X_in.dim() != 3 || y.dim() != 1 || X_in.size(1) != y.size(0)) throw Error("SLR: X must be [L, N, D] and y [N]");
  if (o.C <= 0) throw Error("SLR: C must be positive");
  const torch::Tensor X = X_in.to(torch::kCPU, torch::kFloat32).contiguous();  // host: the coordinate descent reads it as floats
  const int64_t L = X.size(0), N = X.size(1), D = X.size(2), P = static_cast<int64_t>(problems.size());
  const torch::Tensor labels = y.to(torch::kInt64).contiguous();
  const int64_t* ya = labels.data_ptr<int64_t>();
  const double C = o.C;

  // Each problem's data [M, D] (its layer of X, shared; standardized, its own training rows), the
  // rows of it that it trains on, their labels as -1/+1, and its margins z = X w + b.
  struct Data {
    torch::Tensor x, mu, sd;
    std::vector<int64_t> rows;
    std::vector<float> s, z;
  };
  std::vector<Data> data(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; ++p) {
    const SlrProblem& pr = problems[static_cast<size_t>(p)];
    Data& d = data[static_cast<size_t>(p)];
    if (pr.layer < 0 || pr.layer >= L) throw Error("SLR: a problem names layer " + std::to_string(pr.layer) + " of " + std::to_string(L));
    int64_t pos = 0;
    for (int64_t r : pr.rows) {
      if (r < 0 || r >= N) throw Error("SLR: a problem names sample " + std::to_string(r) + " of " + std::to_string(N));
      pos += ya[r] != 0;
      d.s.push_back(ya[r] != 0 ? 1.f : -1.f);
    }
    if (pos == 0 || pos == static_cast<int64_t>(pr.rows.size()))
      throw Error("SLR needs both malicious and benign samples in the training split");
    if (o.standardize) {
      const torch::Tensor sub = X[pr.layer].index_select(0, torch::tensor(pr.rows, host(torch::kInt64)));
      d.mu = sub.mean(0);
      d.sd = sub.std(0, false).clamp_min(1e-6);
      d.x = ((sub - d.mu) / d.sd).contiguous();
      d.rows.resize(pr.rows.size());
      std::iota(d.rows.begin(), d.rows.end(), int64_t(0));
    } else {
      d.x = X[pr.layer];
      d.rows = pr.rows;
    }
    d.z.assign(d.rows.size(), 0.f);
  }

  // The L1 solution is sparse, so each problem is solved on a working set: the features that are
  // nonzero or violate the optimality condition |d loss / d w_j| <= 1. The problems advance in
  // rounds together: each round checks the condition on all features of every open problem (the
  // one full-width product), then every problem whose set changed, or that was solved only
  // loosely, is solved on its set, problems in parallel and each at its own pace (their sets
  // differ in size several times over, so padding them to one batch tripled the work). Rounds
  // that add features are solved loosely (their solution only seeds the next round); a problem is
  // done once a full-tolerance solve leaves nothing violating.
  std::vector<WorkingSet> sets(static_cast<size_t>(P));
  const int kMaxRounds = 50;
  for (int round = 0; round < kMaxRounds; ++round) {
    // |d loss / d w| for the problems still open: the loss gradient over the margins, zero on the
    // rows a problem does not train on, through one matrix-vector product each (measured twice as
    // fast here as the same products as one batched bmm).
    const torch::Tensor grad = torch::empty({P, D}, host());
    for (int64_t p = 0; p < P; ++p) {
      if (sets[static_cast<size_t>(p)].done) continue;
      const Data& d = data[static_cast<size_t>(p)];
      torch::Tensor gz = torch::zeros({d.x.size(0)}, host());
      float* g = gz.data_ptr<float>();
      for (size_t i = 0; i < d.rows.size(); ++i)
        g[d.rows[i]] = float(-C * d.s[i] / (1 + std::exp(double(d.s[i]) * d.z[i])));  // -C s sigmoid(-s z)
      torch::Tensor row = grad[p];
      torch::mv_out(row, d.x.t(), gz).abs_();
    }
    std::vector<int64_t> todo;
    std::vector<std::vector<int64_t>> next(static_cast<size_t>(P));
    for (int64_t p = 0; p < P; ++p) {
      WorkingSet& ws = sets[static_cast<size_t>(p)];
      if (ws.done) continue;
      // Keep the nonzero features; add the strongest violators (up to 512, or as many again).
      std::vector<char> in(static_cast<size_t>(D), 0);
      std::vector<int64_t>& keep = next[static_cast<size_t>(p)];
      for (size_t k = 0; k < ws.features.size(); ++k)
        if (ws.x[k] != 0) {
          keep.push_back(ws.features[k]);
          in[static_cast<size_t>(ws.features[k])] = 1;
        }
      const float* g = grad.data_ptr<float>() + p * D;
      std::vector<int64_t> violating;
      for (int64_t j = 0; j < D; ++j) {
        // Each gradient touches its whole column, so a NaN or infinity anywhere in the layer's
        // activations shows here already in the first round.
        if (!std::isfinite(g[j]))
          throw Error("SLR: the activations of layer " + std::to_string(problems[static_cast<size_t>(p)].layer) +
                      " hold NaN or infinite values");
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
      todo.push_back(p);
    }
    progress.step(P - static_cast<int64_t>(todo.size()), P, "fitting probes");
    if (todo.empty()) break;
    // Problems are taken one at a time from a shared counter, so a thread that drew small
    // problems takes more of them.
    std::atomic<size_t> taken{0};
    at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) {
      for (size_t t; (t = taken++) < todo.size();) {
        const size_t p = static_cast<size_t>(todo[t]);
        WorkingSet& ws = sets[p];
        Data& d = data[p];
        rebuild_rows(ws, d.x.data_ptr<float>(), d.rows, D, std::move(next[p]));
        newton(ws, d.s.data(), d.z.data(), static_cast<int64_t>(d.rows.size()), C, o, !ws.strict);
      }
    });
  }
  SlrFit fit;
  fit.w = torch::zeros({P, D}, host());
  fit.b = torch::zeros({P}, host());
  fit.objective = torch::zeros({P}, host());
  for (int64_t p = 0; p < P; ++p) {
    const WorkingSet& ws = sets[static_cast<size_t>(p)];
    const Data& d = data[static_cast<size_t>(p)];
    torch::Tensor w = torch::zeros({D}, host());
    for (size_t k = 0; k < ws.features.size(); ++k) w[ws.features[k]] = float(ws.x[k]);
    const float b = float(ws.x.back());
    fit.iterations = std::max(fit.iterations, ws.newton_steps);
    const torch::Tensor z = d.x.index_select(0, torch::tensor(d.rows, host(torch::kInt64))).mv(w) + b;
    const torch::Tensor s = torch::tensor(d.s, host());
    fit.objective[p] = w.abs().sum() + (o.penalize_intercept ? std::fabs(b) : 0.f) + C * torch::softplus(-s * z).sum();
    if (o.standardize) {
      fit.w[p] = w / d.sd;
      fit.b[p] = b - (w * d.mu / d.sd).sum();
    } else {
      fit.w[p] = w;
      fit.b[p] = b;
    }
  }
  return fit;
}

SlrFit fit_slr(const torch::Tensor& X, const torch::Tensor& y, const SlrOptions& o, const Progress& progress) {
  if (X.dim() != 3) throw Error("SLR: X must be [L, N, D] and y [N]");
  std::vector<int64_t> all(static_cast<size_t>(X.size(1)));
  std::iota(all.begin(), all.end(), int64_t(0));
  std::vector<SlrProblem> problems;
  for (int64_t l = 0; l < X.size(0); ++l) problems.push_back({l, all});
  return fit_slr(X, y, problems, o, progress);
}

}  // namespace sq
