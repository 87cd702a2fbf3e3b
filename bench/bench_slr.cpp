// The SLR probes of all layers at once against liblinear (the solver behind scikit-learn's
// LogisticRegression(penalty='l1', solver='liblinear')) layer by layer: 32 layers of 4096-wide
// activations for 1000 samples (800 train / 200 held out), as a 7B model's probing gives.
// Usage: bench_slr [layers 32] [width 4096] [tol 1e-6] [kkt_tol 1e-3] [threads 2]
// (liblinear runs on one thread; threads 1 compares like with like).
#include <chrono>
#include <cstdio>

#include "core/probe/slr.h"
#include "tests/liblinear_reference.h"

int main(int argc, char** argv) {
  const int64_t L = argc > 1 ? std::atoll(argv[1]) : 32, D = argc > 2 ? std::atoll(argv[2]) : 4096, N = 1000, n_train = 800;
  torch::set_num_threads(argc > 5 ? std::atoi(argv[5]) : 2);
  torch::manual_seed(0);
  // Each layer: a low-rank signal that grows with depth plus noise, like a residual stream.
  const torch::Tensor y = torch::randint(0, 2, {N}, torch::kInt64);
  const torch::Tensor s = (2 * y.to(torch::kFloat32) - 1).unsqueeze(1);
  std::vector<torch::Tensor> layers;
  for (int64_t l = 0; l < L; ++l) {
    const torch::Tensor dir = torch::randn({D}) / std::sqrt(double(D));
    layers.push_back(torch::randn({N, D}) + (0.5 + 3.0 * double(l) / double(L)) * s * dir * 4);
  }
  const torch::Tensor X = torch::stack(layers);
  const torch::Tensor Xt = X.narrow(1, 0, n_train).contiguous(), yt = y.narrow(0, 0, n_train).contiguous();
  auto held_out = [&](int64_t l, const torch::Tensor& w, double b) {
    const torch::Tensor pred = (torch::matmul(X[l].narrow(0, n_train, N - n_train), w) + b) > 0;
    return pred.eq(y.narrow(0, n_train, N - n_train).to(torch::kBool)).to(torch::kFloat32).mean().item<double>();
  };

  sq::SlrOptions opt;
  opt.penalize_intercept = true;  // liblinear's objective, compared like with like
  if (argc > 3) opt.tol = std::atof(argv[3]);
  if (argc > 4) opt.kkt_tol = std::atof(argv[4]);
  auto t0 = std::chrono::steady_clock::now();
  const sq::SlrFit ours = sq::fit_slr(Xt, yt, opt);
  const double t_ours = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  double t_ref = 0, acc_ours = 0, acc_ref = 0, worst_gap = 0, worst_obj = -1;
  for (int64_t l = 0; l < L; ++l) {
    const torch::Tensor Xl = Xt[l].contiguous();
    t0 = std::chrono::steady_clock::now();
    const LiblinearFit ref = liblinear_l1_logreg(Xl.data_ptr<float>(), yt.data_ptr<int64_t>(), int(n_train), int(D), 1.0);
    t_ref += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const torch::Tensor wr = torch::tensor(std::vector<float>(ref.w.begin(), ref.w.end()));
    const double a = held_out(l, ours.w[l], ours.b[l].item<double>()), r = held_out(l, wr, ref.b);
    acc_ours += a / double(L);
    acc_ref += r / double(L);
    worst_gap = std::max(worst_gap, std::fabs(a - r));
    const double obj_ref = sq::slr_objective(Xl.unsqueeze(0), yt, wr.unsqueeze(0), torch::tensor({float(ref.b)}), 1.0, true).item<double>();
    worst_obj = std::max(worst_obj, (ours.objective[l].item<double>() - obj_ref) / obj_ref);
  }
  std::printf("SLR C=1 (tol %.0e, kkt_tol %.0e, %d threads), %lld layers x %lld samples (train) x %lld features\n", opt.tol, opt.kkt_tol, torch::get_num_threads(), (long long)L, (long long)n_train, (long long)D);
  std::printf("  ours, all layers:      %.2f s, %d iterations, mean held-out accuracy %.4f\n", t_ours, ours.iterations, acc_ours);
  std::printf("  liblinear, per layer:  %.2f s (eps 1e-4), mean held-out accuracy %.4f\n", t_ref, acc_ref);
  std::printf("  speed-up %.1fx; worst per-layer accuracy gap %.4f; worst objective excess over liblinear %+.2e\n",
              t_ref / t_ours, worst_gap, worst_obj);
  return 0;
}
