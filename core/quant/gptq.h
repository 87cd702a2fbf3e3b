#pragma once
// GPTQ (Frantar et al. 2023): quantize a linear layer's weight column by column, spreading each
// column's rounding error over the columns not yet quantized through the inverse Hessian of the
// layer's inputs. Torch-facing.
#include <torch/torch.h>

#include <string>

#include "core/quantized/fake_quant_ops.h"
#include "core/run/torch_device.h"

namespace sq {

// Accumulates H = 2/n * sum x x^T over calibration inputs [.., in] (padding rows excluded by
// the caller), in fp32 as GPTQ's reference code does, or in fp64.
class HessianAccumulator {
 public:
  HessianAccumulator(int64_t in_features, torch::Device device, torch::ScalarType dtype = torch::kFloat32)
      : H_(torch::zeros({in_features, in_features}, torch::TensorOptions(dtype).device(device))) {}
  void add(const torch::Tensor& x);  // x [rows, in]
  torch::Tensor hessian() const { return n_ > 0 ? H_ * (2.0 / double(n_)) : H_; }
  int64_t samples() const { return n_; }

 private:
  torch::Tensor H_;
  int64_t n_ = 0;
};

struct GptqOptions {
  double damp = 0.01;    // of the mean Hessian diagonal
  int64_t block = 128;   // columns per lazy batch update
  bool act_order = false;
};

struct GptqResult {
  QuantizedWeight weight;
  double damp_used = 0;
  std::string note;      // set when the Hessian needed more damping or was unusable
};

// Computes in the Hessian's precision (fp32 or fp64); the dequantized weight comes back in fp32.
GptqResult gptq_quantize(const torch::Tensor& w, const torch::Tensor& hessian, const QuantScheme& scheme,
                         const GptqOptions& options);

}  // namespace sq
