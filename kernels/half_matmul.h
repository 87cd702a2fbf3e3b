#pragma once
// Matrix products with weights stored in half precision (IEEE fp16 or bfloat16): y [n, rows] =
// x [n, cols] Wᵀ with fp32 sums and no fp32 copy of W. The weights are widened as they are read,
// except that the CPU's best path multiplies bf16 weights with its bf16 dot products where it has
// them (AVX512-BF16), the activations rounded to bf16 as llama.cpp rounds them for BF16 files.
#include <cstdint>

#include "kernels/device.h"
#include "kernels/half.h"
#include "kernels/packed_matmul.h"

namespace sq::kernels {

// From this many tokens on, the CPU's widening path multiplies panels of widened rows (panel_gemm.h).
inline constexpr int64_t kHalfPanelTokens = 32;

// `w` is row-major [rows, cols] (fp16 or bf16 bits). Every pointer is in `device`'s memory. On a
// CUDA device, products over many tokens go better through dequantized slices and cuBLAS.
void half_matmul(Device device, HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n,
                 CpuPath path = CpuPath::Best);

// True when `path` multiplies `kind` weights with bf16 dot products on this processor, and so
// rounds the activations to bf16 first, for every token count alike (a decode step, bound by
// memory, widens the weights instead, against the same rounded activations).
bool half_matmul_rounds_to_bf16(HalfKind kind, CpuPath path);

// `count` values widened to fp32 (slices of a weight for many-token products).
void half_to_float(Device device, HalfKind kind, const uint16_t* h, float* out, int64_t count);

}  // namespace sq::kernels
