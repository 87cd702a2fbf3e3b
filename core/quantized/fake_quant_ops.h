#pragma once
// LibTorch faces of the quantization kernels in kernels/: tensors in, tensors out, with
// straight-through gradients where training goes through them. Torch-facing.
#include <torch/torch.h>

#include "core/quantized/scheme.h"
#include "kernels/device.h"

namespace sq {

// The kernels' device for a tensor's data; sq::Error for a device they do not run on.
kernels::Device kernel_device(const torch::Tensor& t);

// Per-token (last dimension) symmetric fake quantization; gradients pass straight through.
torch::Tensor fake_quant_activations(const torch::Tensor& x, int bits);

// Fake quantization of queries, keys or values [..., head_dim] as a KV cache holds them: each
// vector asymmetric in groups of 128 channels (the head size when smaller), on the kernels'
// weight grid; straight-through.
torch::Tensor fake_quant_per_head(const torch::Tensor& x, int bits);

struct QuantizedWeight {
  torch::Tensor dequant;  // f32 [rows, cols]: what the quantized model computes with
  torch::Tensor codes;    // int32 [rows, cols]
  torch::Tensor scales;   // f32 [rows, groups] (as stored: fp16-rounded for GGUF grids)
  torch::Tensor zeros;    // f32 [rows, groups]
  // K-quant grids only (ggml_grid.h), which hold their scales in the blocks: uint8 [rows, row
  // bytes] as a GGUF file stores them; codes, scales and zeros are then undefined.
  torch::Tensor blocks;
};

// Round-to-nearest on the scheme's grid; `clip` [rows, groups] optional.
QuantizedWeight quantize_weight(const torch::Tensor& w, const QuantScheme& scheme, const torch::Tensor& clip = {});

// The scheme's group width for a [rows, cols] weight (per tensor: rows * cols).
int64_t group_width(const QuantScheme& scheme, int64_t rows, int64_t cols);

}  // namespace sq
