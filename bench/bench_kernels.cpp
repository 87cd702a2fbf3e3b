// The packed quantized matmuls against LibTorch's fp32 product on the same shape (torch::mv for
// one token, torch::mm for many) and against the fake-quantized path the engine used before them
// (activations fake-quantized, then the fp32 product with dequantized weights); the
// half-precision product against fp32 and against widening the weight to fp32 first (what the
// engine did before it), and where the processor multiplies bf16 with bf16 dot products, its
// widening path as well. From 32 tokens on (a prefill), the panel product over packed weights
// against fp32 torch::mm and against the path before it (each slice of the weight dequantized to
// fp32, then torch::mm). Figures are taken interleaved in one run, so the
// machine's load weighs on all of them alike.
//   bench_kernels [--threads N (default: every core)] [--reps N]
#include <omp.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/fake_quant.h"
#include "kernels/hadamard.h"
#include "kernels/half_matmul.h"
#include "kernels/packed_matmul.h"
#include "kernels/panel_gemm.h"
#include "kernels/weight_quant.h"

namespace {

namespace k = sq::kernels;
using clock_type = std::chrono::steady_clock;

struct Case {
  const char* name;
  int bits;
  k::GridKind kind;
  int64_t group;  // 0: per output channel
  int act_bits;   // 16: weight-only
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = int(std::thread::hardware_concurrency()), reps = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::max(3, std::atoi(argv[i + 1]));
  }
  torch::set_num_threads(threads);  // LibTorch's pool and OpenMP's, which the kernels use
  omp_set_num_threads(threads);
  std::printf("threads %d, CPU path: %s, median of %d interleaved calls\n", torch::get_num_threads(),
              k::cpu_path_name(k::CpuPath::Best), reps);
  const std::vector<Case> cases = {
      {"W4A16 asym g128", 4, k::GridKind::Asymmetric, 128, 16}, {"W4A16 Q4_0", 4, k::GridKind::GgufQ4_0, 32, 16},
      {"W8A16 sym per-channel", 8, k::GridKind::Symmetric, 0, 16}, {"W8A16 Q8_0", 8, k::GridKind::GgufQ8_0, 32, 16},
      {"W8A8 sym per-channel", 8, k::GridKind::Symmetric, 0, 8}, {"W4A8 sym g128", 4, k::GridKind::Symmetric, 128, 8},
      {"W4A4 sym g128", 4, k::GridKind::Symmetric, 128, 4},
  };
  struct Shape {
    int64_t rows, cols, n;
  };
  for (const Shape& s : {Shape{2048, 2048, 1}, Shape{8192, 2048, 1}, Shape{2048, 8192, 128}, Shape{4096, 4096, 1}, Shape{768, 768, 1}, Shape{3072, 768, 1}, Shape{4096, 4096, 16}, Shape{768, 768, 128},
                        Shape{3072, 768, 128}}) {
    std::printf("\n[%lld x %lld] weight, %lld token%s\n", (long long)s.rows, (long long)s.cols, (long long)s.n, s.n > 1 ? "s" : "");
    std::printf("  %-24s %10s %10s %10s %9s %9s %9s\n", "kernel", "kernel ms", "fp32 ms", "before ms", "vs fp32", "vs before",
                "portable");
    std::mt19937 gen(1);
    std::normal_distribution<float> dist;
    std::vector<float> w(size_t(s.rows * s.cols)), x(size_t(s.n * s.cols)), y(size_t(s.n * s.rows));
    for (float& v : w) v = dist(gen);
    for (float& v : x) v = dist(gen);
    const torch::Tensor wt = torch::from_blob(w.data(), {s.rows, s.cols});
    const torch::Tensor xt = torch::from_blob(x.data(), {s.n, s.cols});
    // runs: the kernel, fp32 LibTorch, the path before the kernel, the kernel's portable twin.
    auto report = [&](const char* name, const std::vector<std::function<void()>>& runs) {
      std::vector<std::vector<double>> t(runs.size());
      for (const auto& f : runs) f();  // warm-up: pages, caches, thread pools
      for (int r = 0; r < reps; ++r)
        for (size_t i = 0; i < runs.size(); ++i) {
          const auto t0 = clock_type::now();
          runs[i]();
          t[i].push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
        }
      const double kernel = median(t[0]), fp32 = median(t[1]), before = median(t[2]), portable = median(t[3]);
      std::printf("  %-24s %10.3f %10.3f %10.3f %8.2fx %8.2fx %8.2fx\n", name, kernel, fp32, before, fp32 / kernel, before / kernel,
                  portable / kernel);
    };
    for (k::HalfKind kind : {k::HalfKind::BF16, k::HalfKind::F16}) {
      const torch::Tensor wh = wt.to(kind == k::HalfKind::F16 ? torch::kHalf : torch::kBFloat16).contiguous();
      const auto* hp = static_cast<const uint16_t*>(wh.data_ptr());
      const std::vector<std::function<void()>> runs = {
          [&] { k::half_matmul(k::Device::Cpu, kind, hp, x.data(), y.data(), s.rows, s.cols, s.n); },
          [&] { (s.n == 1 ? torch::mv(wt, xt[0]) : torch::mm(xt, wt.t())); },
          [&] { (s.n == 1 ? torch::mv(wh.to(torch::kFloat32), xt[0]) : torch::mm(xt, wh.to(torch::kFloat32).t())); },
          [&] { k::half_matmul(k::Device::Cpu, kind, hp, x.data(), y.data(), s.rows, s.cols, s.n, k::CpuPath::Portable); },
      };
      report(kind == k::HalfKind::F16 ? "F16 weights" : "BF16 weights", runs);
      if (!k::half_matmul_rounds_to_bf16(kind, k::CpuPath::Best)) continue;
      // The widening path the bf16 dot products replace, on the same processor.
      std::vector<std::function<void()>> widened = runs;
      widened[0] = [&] { k::half_matmul(k::Device::Cpu, kind, hp, x.data(), y.data(), s.rows, s.cols, s.n, k::CpuPath::Avx2); };
      report("BF16 widened, AVX2", widened);
    }
    for (const Case& c : cases) {
      const int64_t group = c.group > 0 ? c.group : s.cols;
      std::vector<float> deq(w.size()), scales(size_t(s.rows * s.cols / group)), zeros(scales.size());
      std::vector<int32_t> codes(w.size());
      k::fake_quant_weight(k::Device::Cpu, w.data(), deq.data(), s.rows, s.cols, {c.bits, c.kind, group}, nullptr, codes.data(),
                           scales.data(), zeros.data());
      k::PackedHost h;
      k::pack_weights(codes.data(), scales.data(), zeros.data(), s.rows, s.cols, group, c.bits, c.kind, h);
      const k::PackedWeights pw{s.rows, s.cols, group, h.bits, h.codes.data(), h.scales.data(), h.zeros.data()};
      const torch::Tensor dq = torch::from_blob(deq.data(), {s.rows, s.cols});
      std::vector<float> xq(x.size());
      auto packed = [&](k::CpuPath path) {
        if (c.act_bits < 16)
          k::packed_matmul_int(k::Device::Cpu, pw, x.data(), y.data(), s.n, c.act_bits, path);
        else
          k::packed_matmul(k::Device::Cpu, pw, x.data(), y.data(), s.n, path);
      };
      const std::vector<std::function<void()>> runs = {
          [&] { packed(k::CpuPath::Best); },
          [&] { (s.n == 1 ? torch::mv(wt, xt[0]) : torch::mm(xt, wt.t())); },
          [&] {
            const float* in = x.data();
            if (c.act_bits < 16) {
              k::fake_quant_per_token_symmetric(k::Device::Cpu, x.data(), xq.data(), nullptr, s.n, s.cols, c.act_bits);
              in = xq.data();
            }
            const torch::Tensor xin = torch::from_blob(const_cast<float*>(in), {s.n, s.cols});
            (s.n == 1 ? torch::mv(dq, xin[0]) : torch::mm(xin, dq.t()));
          },
          [&] { packed(k::CpuPath::Portable); },
      };
      report(c.name, runs);
      if (s.n < 32 || c.act_bits < 16) continue;
      // The slices the engine multiplied before the panel product: 1M values at a time.
      const int64_t slice = std::max<int64_t>(1, (int64_t(1) << 20) / s.cols);
      std::vector<float> scratch(size_t(std::min(slice, s.rows) * s.cols));
      const k::WeightRows rows_of_w = [&](int64_t r0, int64_t m, float* out) { k::packed_dequantize(k::Device::Cpu, pw, r0, m, out); };
      const std::vector<std::function<void()>> panel_runs = {
          [&] { k::panel_gemm(x.data(), y.data(), s.n, s.rows, s.cols, rows_of_w); },
          [&] { torch::mm(xt, wt.t()); },
          [&] {
            const torch::Tensor out = torch::empty({s.n, s.rows});
            for (int64_t r0 = 0; r0 < s.rows; r0 += slice) {
              const int64_t m = std::min(slice, s.rows - r0);
              rows_of_w(r0, m, scratch.data());
              out.narrow(1, r0, m).copy_(torch::mm(xt, torch::from_blob(scratch.data(), {m, s.cols}).t()));
            }
          },
          [&] { k::panel_gemm(x.data(), y.data(), s.n, s.rows, s.cols, rows_of_w, k::CpuPath::Portable); },
      };
      report((std::string(c.name) + " panels").c_str(), panel_runs);
      if (std::string(k::cpu_path_name(k::CpuPath::Best)) == k::cpu_path_name(k::CpuPath::Avx2)) continue;
      // The same bits through AVX2's narrower panels, where the processor has more.
      std::vector<std::function<void()>> narrow = panel_runs;
      narrow[0] = [&] { k::panel_gemm(x.data(), y.data(), s.n, s.rows, s.cols, rows_of_w, k::CpuPath::Avx2); };
      report((std::string(c.name) + " panels, AVX2").c_str(), narrow);
    }
  }
  // A rotated run's un-rotation of captured states: the fast Walsh-Hadamard transform against the
  // dense product with Qᵀ it replaces.
  std::printf("\n%-34s %12s %12s %9s\n", "Walsh-Hadamard, n = 4096", "fwht ms", "dense ms", "speed-up");
  for (int64_t rows : {1, 128}) {
    const int64_t n = 4096;
    const torch::Tensor q = torch::randn({n, n}), x = torch::randn({rows, n});
    torch::Tensor y = x.clone();
    std::vector<double> fwht, dense;
    for (int r = 0; r < reps; ++r) {
      y.copy_(x);
      auto t0 = clock_type::now();
      k::hadamard_transform(k::Device::Cpu, y.data_ptr<float>(), rows, n, 1.f / 64);
      fwht.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
      t0 = clock_type::now();
      torch::matmul(x, q);
      dense.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
    std::printf("  %-32s %12.3f %12.3f %8.1fx\n", (std::to_string(rows) + (rows > 1 ? " vectors" : " vector")).c_str(), median(fwht),
                median(dense), median(dense) / median(fwht));
  }
  return 0;
}
