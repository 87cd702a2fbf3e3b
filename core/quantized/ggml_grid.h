#pragma once
// Quantization runs on llama.cpp's K-quant grids (schemes gguf-q2_k ... gguf-q6_k): each row of a
// weight encoded as ggml's reference quantizer encodes it, so that a GGUF export of the run
// holds exactly the blocks the run evaluated. Torch-facing.
#include <torch/torch.h>

#include "core/io/gguf.h"
#include "core/quantized/fake_quant_ops.h"
#include "core/quantized/scheme.h"

namespace sq {

// w [rows, cols] (cols a multiple of the type's block) as `type`'s blocks, uint8 [rows, row
// bytes], on the host. Throws naming the width when the rows do not fit the blocks.
torch::Tensor encode_ggml_blocks(const torch::Tensor& w, GgmlType type);

// The same as a quantized weight: the blocks, and the decoded weight as dequant on w's device.
QuantizedWeight quantize_ggml_blocks(const torch::Tensor& w, GgmlType type);

// The float32 [rows, cols] values of blocks [rows, row bytes] of `type`.
torch::Tensor dequantize_ggml_blocks(const torch::Tensor& blocks, GgmlType type, int64_t cols);

}  // namespace sq
