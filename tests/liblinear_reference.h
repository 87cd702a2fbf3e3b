#pragma once
// The reference solver for the SLR probe: liblinear's L1-regularized logistic regression
// (solver L1R_LR, bias feature 1), the solver behind scikit-learn's
// LogisticRegression(penalty='l1', solver='liblinear'). Tests and benchmarks only.
#include <linear.h>

#include <vector>

struct LiblinearFit {
  std::vector<double> w;  // oriented so that w . x + b > 0 means label 1
  double b = 0;
};

// X row-major [n, d], y in {0, 1}.
inline LiblinearFit liblinear_l1_logreg(const float* X, const int64_t* y, int n, int d, double C, double eps = 1e-4) {
  set_print_string_function([](const char*) {});
  std::vector<std::vector<feature_node>> rows(static_cast<size_t>(n));
  std::vector<feature_node*> xs;
  std::vector<double> ys;
  for (int i = 0; i < n; ++i) {
    auto& r = rows[size_t(i)];
    for (int j = 0; j < d; ++j)
      if (X[size_t(i) * size_t(d) + size_t(j)] != 0.f) r.push_back({j + 1, double(X[size_t(i) * size_t(d) + size_t(j)])});
    r.push_back({d + 1, 1.0});  // the bias feature
    r.push_back({-1, 0.0});
    xs.push_back(r.data());
    ys.push_back(y[i] ? 1.0 : -1.0);
  }
  problem prob{n, d + 1, ys.data(), xs.data(), 1.0};
  parameter param{};
  param.solver_type = L1R_LR;
  param.eps = eps;
  param.C = C;
  model* m = train(&prob, &param);
  int labels[2];
  get_labels(m, labels);
  const double sign = labels[0] == 1 ? 1.0 : -1.0;  // liblinear's w favours its first label
  LiblinearFit f;
  for (int j = 1; j <= d; ++j) f.w.push_back(sign * get_decfun_coef(m, j, 0));
  f.b = sign * get_decfun_bias(m, 0);
  free_and_destroy_model(&m);
  return f;
}
