#pragma once
// A quantized linear layer computed on its packed codes (kernels/packed_matmul.h) instead of a
// dequantized floating-point copy: what a quantization run executes as, on the CPU or a CUDA
// device. Torch-facing.
#include <torch/torch.h>

#include <functional>
#include <memory>

#include "core/quantized/fake_quant_ops.h"
#include "core/quantized/scheme.h"
#include "kernels/packed_math.h"
#include "kernels/panel_gemm.h"

namespace sq {

// From this many tokens on, a GEMM over fp32 slices of a weight beats widening or decoding its
// stored values once per few tokens (bench/bench_kernels: at 16 tokens the two are level).
inline constexpr int64_t kManyTokens = 32;

// x [n, cols] Wᵀ (x contiguous fp32) for a W [rows, cols] held in another form: `fill(r0, m, out)`
// writes rows r0..r0+m-1 of W in fp32 to `out`. On the CPU, the panel product decodes 16 rows at a
// time into each thread's cache (kernels/panel_gemm.h); on a CUDA device, slices of a few MB in
// one scratch buffer meet cuBLAS. No fp32 copy of W, and no fresh pages per call.
torch::Tensor many_token_product(const torch::Tensor& x, int64_t rows, int64_t cols, const kernels::WeightRows& fill);

class PackedLinear {
 public:
  // The run's codes, scales and zero points of one weight packed on `device`; null when its
  // shape has no packed layout (columns or groups not a multiple of 32), and the caller computes
  // with the dequantized weight instead. Throws sq::Error for codes off the scheme's grid.
  static std::shared_ptr<const PackedLinear> pack(const QuantizedWeight& q, const QuantScheme& scheme, torch::Device device,
                                                  const std::string& name);

  // x [..., cols] -> [..., rows] in fp32, with the activations quantized per token to
  // `act_bits` first (16: not at all), as the fake-quantized model computes it.
  torch::Tensor forward(const torch::Tensor& x, int act_bits) const;

  int64_t rows() const { return view_.rows; }
  int64_t cols() const { return view_.cols; }

 private:
  torch::Tensor codes_, scales_, zeros_;
  kernels::PackedWeights view_;  // points into the tensors above
};

}  // namespace sq
