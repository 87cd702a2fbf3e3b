#pragma once
// Sparse (L1) logistic regression, every layer at once. The objective is scikit-learn's
// LogisticRegression(penalty='l1', C), the probe Q-realign fits:
//     min_{w,b}  ||w||_1 + C * sum_i log(1 + exp(-y_i (w . x_i + b))),   y_i in {-1, +1}
// with the intercept free, as the saga solver (Q-realign's setting) treats it; or, as liblinear
// treats it (a feature of constant 1), with |b| added to the penalty. Solved on
// a [layers, samples, features] tensor, all layers together: rounds that check the optimality
// conditions on every feature of every layer, and between them proximal Newton (as GLMNET and
// liblinear's newGLMNET) on each layer's working set of features, layers in parallel. The same
// solver fits many problems over one activation tensor (every layer of every cross-validation
// fold), each a layer and the samples it trains on, without copying the activations.
// Torch-facing: include from the engine's own translation units.
#include <torch/torch.h>

#include <vector>

#include "core/run/progress.h"

namespace sq {

struct SlrOptions {
  double C = 1.0;
  bool penalize_intercept = false;  // liblinear's objective (|b| penalized) instead of saga's
  bool standardize = false;  // fit on z-scored features (train statistics); w, b are mapped back
  int max_newton = 100;      // Newton steps per working-set round
  // Coordinate-descent sweeps per Newton subproblem: a cap, the subproblem's tolerance ends it
  // first. Correlated activations take hundreds; a cap of 50 left Newton crawling (94 steps
  // instead of 15 on the demo model's activations).
  int max_cd_sweeps = 1000;
  double tol = 1e-6;  // a layer's Newton steps stop once its objective changes less than this, relatively
  double kkt_tol = 1e-3;  // a zero weight is optimal while |d loss / d w_j| <= 1 + kkt_tol
};

struct SlrFit {
  torch::Tensor w;          // [P, D], for the raw (unstandardized) features
  torch::Tensor b;          // [P]
  torch::Tensor objective;  // [P], of the problem as solved (standardized when asked)
  int iterations = 0;       // Newton steps over all rounds, of the problem that took the most
};

// One probe to fit: a layer of X and the samples (indices into N) it trains on.
struct SlrProblem {
  int64_t layer = 0;
  std::vector<int64_t> rows;
};

// X [L, N, D] float, y [N] with 1 = positive (malicious), 0 = negative; one probe per problem, in
// their order. Standardizing uses each problem's own training rows.
SlrFit fit_slr(const torch::Tensor& X, const torch::Tensor& y, const std::vector<SlrProblem>& problems,
               const SlrOptions& options, const Progress& progress = {});
// One probe per layer over all N samples.
SlrFit fit_slr(const torch::Tensor& X, const torch::Tensor& y, const SlrOptions& options, const Progress& progress = {});

// The objective above for given w [L, D], b [L].
torch::Tensor slr_objective(const torch::Tensor& X, const torch::Tensor& y, const torch::Tensor& w, const torch::Tensor& b,
                            double C, bool penalize_intercept);

}  // namespace sq
