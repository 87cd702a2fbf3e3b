// GPTQ at the shapes of Llama-3.2-1B's linear layers, with Hessians in fp32 (the default, as
// GPTQ's reference code) and in fp64 (--hessian-f64): the time to accumulate the Hessian of
// 128 x 512 calibration tokens, the time of the column loop, and how far the two precisions'
// layer outputs differ. Inputs are random but correlated (a low-rank mix plus noise), as
// activations are; each precision sees the same ones.
#include <chrono>
#include <cstdio>

#include "core/quant/gptq.h"
#include "core/run/blas_kernels.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Shape {
  const char* name;
  int64_t out, in;
};

}  // namespace

int main(int argc, char** argv) {
  sq::reexec_with_fitting_blas(argv);  // as safequant does
  const int64_t tokens = argc > 1 ? std::atoll(argv[1]) : 128 * 512, chunk = 2048, rank = 64;
  torch::set_num_threads(2);
  torch::NoGradGuard no_grad;
  const sq::QuantScheme scheme = sq::parse_scheme("w4a16");
  std::printf("GPTQ W4A16 (per channel), %lld calibration tokens, 2 threads\n", (long long)tokens);
  std::printf("%-22s %-8s %12s %12s %14s\n", "layer [out x in]", "hessian", "accumulate s", "gptq s", "output MSE");
  for (const Shape& sh : {Shape{"q_proj [2048 x 2048]", 2048, 2048}, Shape{"down_proj [2048 x 8192]", 2048, 8192}}) {
    torch::manual_seed(1);
    const torch::Tensor mix = torch::randn({rank, sh.in});
    const torch::Tensor W = torch::randn({sh.out, sh.in}) * 0.02;
    torch::Tensor probe;  // a slice of the inputs to measure the layer output error on
    double mse64 = 0;
    for (const bool f64 : {true, false}) {
      sq::HessianAccumulator acc(sh.in, torch::kCPU, f64 ? torch::kFloat64 : torch::kFloat32);
      torch::manual_seed(2);
      auto t0 = std::chrono::steady_clock::now();
      for (int64_t at = 0; at < tokens; at += chunk) {
        const torch::Tensor x = torch::matmul(torch::randn({std::min(chunk, tokens - at), rank}), mix) +
                                0.1 * torch::randn({std::min(chunk, tokens - at), sh.in});
        if (!probe.defined()) probe = x;
        acc.add(x);
      }
      const double accumulate = seconds_since(t0);
      t0 = std::chrono::steady_clock::now();
      const sq::GptqResult g = sq::gptq_quantize(W, acc.hessian(), scheme, {});
      const double loop = seconds_since(t0);
      const double mse = torch::matmul(probe, (W - g.weight.dequant).t()).pow(2).mean().item<double>();
      if (f64) mse64 = mse;
      std::printf("%-22s %-8s %12.1f %12.1f %14.4e%s\n", sh.name, f64 ? "float64" : "float32", accumulate, loop, mse,
                  f64 ? "" : (" (" + std::to_string((mse - mse64) / mse64 * 100).substr(0, 6) + " % from fp64)").c_str());
    }
  }
  return 0;
}
