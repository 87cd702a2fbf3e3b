#pragma once
// Matrix products with weights stored in half precision (IEEE fp16 or bfloat16), widened as they
// are read: y [n, rows] = x [n, cols] Wᵀ with fp32 activations and sums, and no fp32 copy of W.
#include <cstdint>

#include "kernels/device.h"
#include "kernels/half.h"
#include "kernels/packed_matmul.h"

namespace sq::kernels {

// `w` is row-major [rows, cols] (fp16 or bf16 bits). Every pointer is in `device`'s memory.
void half_matmul(Device device, HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n,
                 CpuPath path = CpuPath::Best);

// `count` values widened to fp32 (slices of a weight for many-token products).
void half_to_float(Device device, HalfKind kind, const uint16_t* h, float* out, int64_t count);

}  // namespace sq::kernels
