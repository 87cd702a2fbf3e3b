// The many-token product over panels of decoded weights (panel_gemm.h). The AVX2 + FMA tile keeps
// 6 tokens × 16 rows of sums in twelve registers and, per column, loads the panel's 16 values
// once for all six tokens: two loads and six broadcasts feed twelve FMAs. Where the processor has
// AVX-512, panels of 32 rows meet 12 tokens: two loads and twelve broadcasts feed 24 FMAs of twice
// the width. Every lane sums its row's products in column order with FMAs in both, so the two
// give the same bits. The portable twin runs the same loops in scalar code.
#include "kernels/intrinsics.h"

#include <algorithm>
#include <vector>

#include "kernels/device.h"
#include "kernels/panel_gemm.h"

namespace sq::kernels {
namespace {

constexpr int kPanelRows = 16, kTokens = 6;       // AVX2: 12 accumulators of 16 registers
constexpr int kWideRows = 32, kWideTokens = 12;    // AVX-512: 24 accumulators of 32 registers
static_assert(kWideRows <= kMaxPanelRows);
constexpr size_t kKeptTokenValues = size_t(4) << 20;  // 16 MB of interleaved tokens kept between calls

// [cols][height]: one column of the panel's rows side by side, zero past the weight's last row.
void pack_panel(const float* block, int64_t m, int64_t cols, int64_t height, float* panel) {
  for (int64_t i = 0; i < height; ++i)
    for (int64_t c = 0; c < cols; ++c) panel[c * height + i] = i < m ? block[i * cols + c] : 0.f;
}

// The tokens of each tile interleaved, [cols][T] per tile of T tokens (in place of [T][cols]):
// the tile reads its tokens' values for one column side by side, where rows of x a power of two
// apart (2048 floats, say) would fall into the same cache sets.
void interleave_tokens(const float* x, int64_t n, int64_t cols, int64_t tile, float* out) {
#pragma omp parallel for schedule(static) if (n * cols > (1 << 16))
  for (int64_t t0 = 0; t0 < n; t0 += tile) {
    const int64_t T = std::min<int64_t>(tile, n - t0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < cols; ++c) out[t0 * cols + c * T + t] = x[(t0 + t) * cols + c];
  }
}

// T interleaved tokens against one panel into y[t * rows + 0..m-1].
template <int T>
void tile_portable(const float* x, int64_t cols, const float* panel, float* y, int64_t rows, int64_t m) {
  float acc[T][kPanelRows] = {};
  for (int64_t c = 0; c < cols; ++c)
    for (int t = 0; t < T; ++t)
      for (int64_t i = 0; i < kPanelRows; ++i) acc[t][i] += x[c * T + t] * panel[c * kPanelRows + i];
  for (int t = 0; t < T; ++t) std::copy(acc[t], acc[t] + m, y + t * rows);
}

#define SQ_AVX2 __attribute__((target("avx2,fma")))

template <int T>
SQ_AVX2 void tile_avx2(const float* x, int64_t cols, const float* panel, float* y, int64_t rows, int64_t m) {
  __m256 acc[T][2];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t c = 0; c < cols; ++c) {
    const __m256 w0 = _mm256_loadu_ps(panel + c * kPanelRows), w1 = _mm256_loadu_ps(panel + c * kPanelRows + 8);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m256 xt = _mm256_broadcast_ss(x + c * T + t);
      acc[t][0] = _mm256_fmadd_ps(xt, w0, acc[t][0]);
      acc[t][1] = _mm256_fmadd_ps(xt, w1, acc[t][1]);
    }
  }
  // The weight's last panel may hold fewer rows: lanes past them are not stored.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i keep0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(m)), lane);
  const __m256i keep1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(m) - 8), lane);
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) {
    _mm256_maskstore_ps(y + t * rows, keep0, acc[t][0]);
    _mm256_maskstore_ps(y + t * rows + 8, keep1, acc[t][1]);
  }
}

#define SQ_AVX512 __attribute__((target("avx2,fma,avx512f")))

// T interleaved tokens against a panel of 32 rows ([cols][32]).
template <int T>
SQ_AVX512 void tile_avx512(const float* x, int64_t cols, const float* panel, float* y, int64_t rows, int64_t m) {
  __m512 acc[T][2];
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  for (int64_t c = 0; c < cols; ++c) {
    const __m512 w0 = _mm512_loadu_ps(panel + c * kWideRows), w1 = _mm512_loadu_ps(panel + c * kWideRows + 16);
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) {
      const __m512 xt = _mm512_set1_ps(x[c * T + t]);
      acc[t][0] = _mm512_fmadd_ps(xt, w0, acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(xt, w1, acc[t][1]);
    }
  }
  const __mmask16 keep0 = __mmask16(m >= 16 ? 0xffff : (1u << m) - 1);
  const __mmask16 keep1 = __mmask16(m >= 32 ? 0xffff : m <= 16 ? 0 : (1u << (m - 16)) - 1);
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + t * rows, keep0, acc[t][0]);
    _mm512_mask_storeu_ps(y + t * rows + 16, keep1, acc[t][1]);
  }
}

using Tile = void (*)(const float*, int64_t, const float*, float*, int64_t, int64_t);

// The tile for T = 1..kTokens tokens.
Tile portable_tile(int T) {
  static constexpr Tile tiles[kTokens] = {tile_portable<1>, tile_portable<2>, tile_portable<3>,
                                          tile_portable<4>, tile_portable<5>, tile_portable<6>};
  return tiles[T - 1];
}

Tile avx2_tile(int T) {
  static constexpr Tile tiles[kTokens] = {tile_avx2<1>, tile_avx2<2>, tile_avx2<3>, tile_avx2<4>, tile_avx2<5>, tile_avx2<6>};
  return tiles[T - 1];
}

Tile avx512_tile(int T) {
  static constexpr Tile tiles[kWideTokens] = {tile_avx512<1>, tile_avx512<2>, tile_avx512<3>,  tile_avx512<4>,
                                              tile_avx512<5>, tile_avx512<6>, tile_avx512<7>,  tile_avx512<8>,
                                              tile_avx512<9>, tile_avx512<10>, tile_avx512<11>, tile_avx512<12>};
  return tiles[T - 1];
}

// A panel's height and a tile's tokens, and the tile code, for a path on this processor.
struct Kernel {
  int64_t height, tokens;
  Tile (*tile)(int);
};

const bool kHaveAvx512 = (__builtin_cpu_init(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
                                                    __builtin_cpu_supports("fma"));

Kernel kernel_for(CpuPath path) {
  if (path == CpuPath::Portable || !cpu_vectorized()) return {kPanelRows, kTokens, portable_tile};
  if (path == CpuPath::Best && kHaveAvx512) return {kWideRows, kWideTokens, avx512_tile};
  return {kPanelRows, kTokens, avx2_tile};
}

}  // namespace

void panel_gemm(const float* x, float* y, int64_t n, int64_t rows, int64_t cols, const WeightRows& weight_rows, CpuPath path) {
  if (n < 0 || rows < 0 || cols < 0) throw KernelError("panel product: a negative size");
  if (n * rows > 0 && (!x || !y || !weight_rows)) throw KernelError("panel product: a null buffer");
  if (n == 0 || rows == 0) return;
  const Kernel k = kernel_for(path);
  const int64_t panels = (rows + k.height - 1) / k.height;
  thread_local std::vector<float> tokens;  // of the calling thread, reused across calls
  tokens.resize(size_t(n * cols));
  interleave_tokens(x, n, cols, k.tokens, tokens.data());
  const float* xi = tokens.data();
#pragma omp parallel
  {
    // Kept by each thread across calls: two panels' worth, reused without fresh pages.
    thread_local std::vector<float> block, panel;
    block.resize(size_t(k.height * cols));
    panel.resize(size_t(k.height * cols));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t r0 = p * k.height, m = std::min(k.height, rows - r0);
      weight_rows(r0, m, block.data());
      pack_panel(block.data(), m, cols, k.height, panel.data());
      for (int64_t t0 = 0; t0 < n; t0 += k.tokens) {
        const int T = int(std::min<int64_t>(k.tokens, n - t0));
        k.tile(T)(xi + t0 * cols, cols, panel.data(), y + t0 * rows + r0, rows, m);
      }
    }
  }
  // A long prompt's copy is not kept for the decode steps that follow it.
  if (tokens.capacity() > kKeptTokenValues) std::vector<float>().swap(tokens);
}

}  // namespace sq::kernels
