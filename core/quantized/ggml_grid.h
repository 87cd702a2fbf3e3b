#pragma once
// Quantization runs on llama.cpp's K-quant grids (schemes gguf-q2_k ... gguf-q6_k): each row of a
// weight encoded as ggml's reference quantizer encodes it, so that a GGUF export of the run
// holds exactly the blocks the run evaluated. Torch-facing.
#include <torch/torch.h>

#include "core/io/gguf.h"
#include "core/quantized/fake_quant_ops.h"
#include "core/quantized/scheme.h"

namespace sq {

// w [rows, cols] (cols a multiple of 256) as `type`'s blocks: QuantizedWeight::blocks uint8
// [rows, row bytes], and the decoded weight as dequant. Computed on the host; dequant comes back
// on w's device. Throws naming the width when the rows do not fit the super-blocks.
QuantizedWeight quantize_ggml_blocks(const torch::Tensor& w, GgmlType type);

// The float32 [rows, cols] values of blocks [rows, row bytes] of `type`.
torch::Tensor dequantize_ggml_blocks(const torch::Tensor& blocks, GgmlType type, int64_t cols);

}  // namespace sq
