#pragma once
// bf16 weights with the CPU's bf16 dot products (AVX512-BF16), activations rounded to bf16 and
// sums in fp32: the best CPU path of half_matmul for bf16 weights where the processor has them.
// Only the kernels' own files include this.
#include <cstdint>

namespace sq::kernels {

// From this many tokens on (a prompt), half_matmul multiplies bf16 weights with the dot products;
// fewer (a decode step, bound by memory) widen the weights and multiply the rounded activations.
inline constexpr int64_t kBf16PanelTokens = 12;

// True when this processor has AVX512-BF16 (with AVX-512 F, BW and VL).
bool bf16_dot_available();

// y [n, rows] = bf16(x) [n, cols] Wᵀ over packed panels of W, host memory; only where
// bf16_dot_available().
void bf16_dot_matmul_cpu(const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n);

// `count` values rounded to bf16 (to nearest even), kept as fp32: the activations a few tokens'
// product multiplies with widened weights, so that every token count computes the same
// products; only where bf16_dot_available().
void round_to_bf16_values(const float* x, float* out, int64_t count);

}  // namespace sq::kernels
