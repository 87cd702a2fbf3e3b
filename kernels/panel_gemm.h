#pragma once
// Products over many tokens (a prefill, a batch) with weights stored in another form than fp32
// (half precision, packed codes): y [n, rows] = x [n, cols] Wᵀ in fp32. W is decoded a panel of
// rows at a time (16 for AVX2, 32 for AVX-512), laid out column by column, and every token meets the panel while it
// sits in the core's cache: each weight value is decoded once per product, and no fp32 copy of
// W exists beyond one panel per thread. CPU only: on a CUDA device many-token products multiply
// dequantized slices with cuBLAS.
#include <cstdint>
#include <functional>

#include "kernels/packed_matmul.h"

namespace sq::kernels {

// The most rows a panel holds.
inline constexpr int64_t kMaxPanelRows = 32;

// Writes rows r0..r0+m-1 of W (m <= kMaxPanelRows) in fp32, row-major [m, cols], to `out`. Called
// from several threads at once, and must not throw.
using WeightRows = std::function<void(int64_t r0, int64_t m, float* out)>;

// `x` and `y` are host memory, row-major.
void panel_gemm(const float* x, float* y, int64_t n, int64_t rows, int64_t cols, const WeightRows& weight_rows,
                CpuPath path = CpuPath::Best);

}  // namespace sq::kernels
