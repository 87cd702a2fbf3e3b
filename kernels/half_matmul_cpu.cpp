// CPU twins of the half-precision products: bf16 weights against activations rounded to bf16
// where the processor has bf16 dot products (bf16_dot.h; a decode step widens the weights), else the weights widened: AVX2 + FMA + F16C where the processor
// has them, the portable loop (half.h's conversions) elsewhere. A few tokens: rows run in
// parallel, each meeting a few tokens at a time, so that its values are widened once per tile of
// tokens. Many tokens: the panel product over widened rows (panel_gemm.h).
#include <immintrin.h>

#include <vector>

#include "kernels/avx2_sum.h"
#include "kernels/bf16_dot.h"
#include "kernels/half_matmul.h"
#include "kernels/kernel_impl.h"
#include "kernels/panel_gemm.h"
#include "kernels/row_tiles.h"

namespace sq::kernels {
namespace {

void matmul_portable(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < n; ++t) {
      float acc = 0.f;
      for (int64_t c = 0; c < cols; ++c) acc += half_to_fp32(w[r * cols + c], kind) * x[t * cols + c];
      y[t * rows + r] = acc;
    }
}

#define SQ_AVX2_F16C __attribute__((target("avx2,fma,f16c")))

SQ_AVX2_F16C inline __m256 widen8(const uint16_t* p, HalfKind kind) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (kind == HalfKind::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Row r against tokens t0..t0+NT-1, 32 columns a step in A chains per token; the columns past
// the last multiple of 32 in scalar.
template <int NT>
SQ_AVX2_F16C void row_tile(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t r,
                           int64_t t0) {
  constexpr int A = NT == 1 ? 4 : 2;
  const uint16_t* row = w + r * cols;
  __m256 acc[NT][A];
  for (int t = 0; t < NT; ++t)
    for (int a = 0; a < A; ++a) acc[t][a] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = widen8(row + c + 8 * k, kind);
    for (int t = 0; t < NT; ++t) {
      const float* xt = x + (t0 + t) * cols + c;
      for (int k = 0; k < 4; ++k) acc[t][k % A] = _mm256_fmadd_ps(v[k], _mm256_loadu_ps(xt + 8 * k), acc[t][k % A]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    __m256 sum = acc[t][0];
    for (int a = 1; a < A; ++a) sum = _mm256_add_ps(sum, acc[t][a]);
    float s = hsum(sum);
    for (int64_t j = c; j < cols; ++j) s += half_to_fp32(row[j], kind) * x[(t0 + t) * cols + j];
    y[(t0 + t) * rows + r] = s;
  }
}

SQ_AVX2_F16C void matmul_avx2(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n) {
  rows_in_tiles(rows, n, [&](int64_t r, int64_t t0, auto nt) { row_tile<decltype(nt)::value>(kind, w, x, y, rows, cols, r, t0); });
}

// The panels of many-token products widen 16 rows at a time, inside the product's own threads.
SQ_AVX2_F16C void widen_avx2(HalfKind kind, const uint16_t* h, float* out, int64_t count) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count / 8 * 8; i += 8) _mm256_storeu_ps(out + i, widen8(h + i, kind));
  for (int64_t i = count / 8 * 8; i < count; ++i) out[i] = half_to_fp32(h[i], kind);
}

// Read while the library's constructors run, hence the explicit init.
const bool kHaveF16c = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                                                  __builtin_cpu_supports("f16c"));

}  // namespace

bool half_matmul_rounds_to_bf16(HalfKind kind, CpuPath path) {
  return kind == HalfKind::BF16 && path == CpuPath::Best && bf16_dot_available();
}

void half_matmul_cpu(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n, CpuPath path) {
  if (half_matmul_rounds_to_bf16(kind, path) && n >= kBf16PanelTokens) {
    bf16_dot_matmul_cpu(w, x, y, rows, cols, n);
  } else if (half_matmul_rounds_to_bf16(kind, path)) {
    thread_local std::vector<float> rounded;
    rounded.resize(size_t(n * cols));
    round_to_bf16_values(x, rounded.data(), n * cols);
    matmul_avx2(kind, w, rounded.data(), y, rows, cols, n);
  } else if (n >= kHalfPanelTokens) {
    panel_gemm(x, y, n, rows, cols, [&](int64_t r0, int64_t m, float* out) { half_to_float_cpu(kind, w + r0 * cols, out, m * cols); },
               path);
  } else {
    (path != CpuPath::Portable && kHaveF16c ? matmul_avx2 : matmul_portable)(kind, w, x, y, rows, cols, n);
  }
}

void half_to_float_cpu(HalfKind kind, const uint16_t* h, float* out, int64_t count) {
  if (kHaveF16c) {
    widen_avx2(kind, h, out, count);
    return;
  }
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) out[i] = half_to_fp32(h[i], kind);
}

}  // namespace sq::kernels
