// Throughput of per-token symmetric fake quantization: the CPU twin, and CUDA where it runs.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/fake_quant.h"

int main() {
  using clock = std::chrono::steady_clock;
  const int64_t rows = 2048, cols = 4096;
  std::vector<float> x(static_cast<size_t>(rows * cols)), y(x.size());
  std::mt19937 gen(1);
  std::normal_distribution<float> dist;
  for (float& v : x) v = dist(gen);
  for (int bits : {8, 4}) {
    sq::kernels::fake_quant_per_token_symmetric_cpu(x.data(), y.data(), nullptr, rows, cols, bits);  // warm-up
    const int reps = 10;
    const auto t0 = clock::now();
    for (int i = 0; i < reps; ++i)
      sq::kernels::fake_quant_per_token_symmetric_cpu(x.data(), y.data(), nullptr, rows, cols, bits);
    const double s = std::chrono::duration<double>(clock::now() - t0).count() / reps;
    std::printf("cpu  per-token sym w%d  [%lld x %lld]  %.2f ms  %.2f GB/s\n", bits, (long long)rows,
                (long long)cols, s * 1e3, 2.0 * double(x.size()) * 4 / s / 1e9);
    std::string err;
    const auto t1 = clock::now();
    if (sq::kernels::fake_quant_per_token_symmetric_cuda(x.data(), y.data(), nullptr, rows, cols, bits, &err)) {
      const double c = std::chrono::duration<double>(clock::now() - t1).count();
      std::printf("cuda per-token sym w%d  %.2f ms including host<->device copies\n", bits, c * 1e3);
    } else {
      std::printf("cuda per-token sym w%d  skipped: %s\n", bits, err.c_str());
    }
  }
  return 0;
}
