// Throughput of per-token symmetric fake quantization through its one entry point: on the CPU,
// and on a CUDA device where one runs (data resident there; the copies timed apart).
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/fake_quant.h"

namespace {

using clock_type = std::chrono::steady_clock;
namespace k = sq::kernels;

// Seconds per call, after a warm-up call.
double seconds_per_call(k::Device device, const float* x, float* y, int64_t rows, int64_t cols, int bits) {
  k::fake_quant_per_token_symmetric(device, x, y, nullptr, rows, cols, bits);
  const int reps = 10;
  const auto t0 = clock_type::now();
  for (int i = 0; i < reps; ++i) k::fake_quant_per_token_symmetric(device, x, y, nullptr, rows, cols, bits);
  return std::chrono::duration<double>(clock_type::now() - t0).count() / reps;
}

}  // namespace

int main() {
  const int64_t rows = 2048, cols = 4096;
  std::vector<float> x(static_cast<size_t>(rows * cols)), y(x.size());
  std::mt19937 gen(1);
  std::normal_distribution<float> dist;
  for (float& v : x) v = dist(gen);
  const double gb = 2.0 * double(x.size()) * 4 / 1e9;  // read and written
  for (int bits : {8, 4}) {
    const double s = seconds_per_call(k::Device::Cpu, x.data(), y.data(), rows, cols, bits);
    std::printf("cpu  per-token sym w%d  [%lld x %lld]  %.2f ms  %.2f GB/s\n", bits, (long long)rows, (long long)cols, s * 1e3, gb / s);
    try {
      const auto t0 = clock_type::now();
      k::CudaBuffer dx(x.size() * sizeof(float)), dy(x.size() * sizeof(float));
      dx.upload(x.data());
      const double up = std::chrono::duration<double>(clock_type::now() - t0).count();
      const double c = seconds_per_call(k::Device::Cuda, dx.as<float>(), dy.as<float>(), rows, cols, bits);
      std::printf("cuda per-token sym w%d  %.3f ms  %.1f GB/s (upload %.2f ms)\n", bits, c * 1e3, gb / c, up * 1e3);
    } catch (const k::KernelError& e) {
      std::printf("cuda per-token sym w%d  skipped: %s\n", bits, e.what());
    }
  }
  return 0;
}
