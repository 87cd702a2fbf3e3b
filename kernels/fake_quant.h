#pragma once
// Fake quantization (quantize then dequantize, in fp32) of row-major [rows, cols] activations.
#include <cstdint>

#include "kernels/device.h"

namespace sq::kernels {

// Per-token (per-row) symmetric fake quantization to `bits` (2..16): each row is scaled by
// max|x| / (2^(bits-1) - 1). `scales` (may be null) receives one scale per row. Every pointer is
// in `device`'s memory.
void fake_quant_per_token_symmetric(Device device, const float* x, float* y, float* scales, int64_t rows, int64_t cols,
                                    int bits);

}  // namespace sq::kernels
