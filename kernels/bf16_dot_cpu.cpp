// bfloat16 weights against activations rounded to bfloat16, with the CPU's bf16 dot products
// (AVX512-BF16: AMD Zen 4/5, Intel Cooper Lake and Sapphire Rapids on): each instruction
// multiplies 32 pairs of bf16 values and adds them, in fp32, to 16 sums. The products are exact
// in fp32; only the activations' rounding to bf16 (to nearest even, 8 significant bits) differs
// from widening the weights, which is what llama.cpp does for BF16 files too.
//
// Panels of 32 rows laid out as column pairs ([pairs][32 rows] of two bf16 values), a tile of
// 12 tokens × 32 rows held in 24 registers, each column pair of a token broadcast to all 16
// lanes. The columns go in blocks, so that a block of the panel and of the tokens stays in the
// core's cache while all token tiles pass.
#include "kernels/intrinsics.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/bf16_dot.h"
#include "kernels/half.h"

namespace sq::kernels {
namespace {

#define SQ_BF16 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512bf16")))

constexpr int kPanel = 32;                   // rows per panel: two registers of 16 sums
constexpr int kTile = 12;                    // tokens per tile: 24 of the 32 registers
constexpr int64_t kPairBlock = 256;          // column pairs per block: 32 KB of a panel
constexpr size_t kKeptValues = size_t(4) << 20;  // scratch kept between calls, in 32-bit words

// fp32 to bf16 bits, rounding to nearest even, as the CPU's conversion does (NaN kept quiet).
uint16_t round_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// `count` floats to bf16, 32 at a time with the CPU's conversion; the rest one by one.
SQ_BF16 void to_bf16(const float* x, uint16_t* out, int64_t count) {
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(out + i, reinterpret_cast<const __m512i&>(h));
  }
  for (; i < count; ++i) out[i] = round_to_bf16(x[i]);
}

// Panel p's rows r0..r0+m-1 as [pairs][kPanel] words of two bf16 values, zero past row m and
// past the last column.
void pack_panel(const uint16_t* w, int64_t r0, int64_t m, int64_t cols, int64_t pairs, uint32_t* panel) {
  for (int64_t i = 0; i < kPanel; ++i) {
    const uint16_t* row = w + (r0 + i) * cols;
    for (int64_t p = 0; p < pairs; ++p) {
      const int64_t c = 2 * p;
      const uint32_t lo = i < m ? row[c] : 0, hi = i < m && c + 1 < cols ? row[c + 1] : 0;
      panel[p * kPanel + i] = lo | (hi << 16);
    }
  }
}

// The tokens as bf16 pairs, tile by tile: [pairs][T] words per tile of T tokens.
void interleave_tokens(const uint16_t* xb, int64_t n, int64_t cols, int64_t pairs, uint32_t* out) {
#pragma omp parallel for schedule(static) if (n * cols > (1 << 16))
  for (int64_t t0 = 0; t0 < n; t0 += kTile) {
    const int64_t T = std::min<int64_t>(kTile, n - t0);
    for (int64_t t = 0; t < T; ++t) {
      const uint16_t* row = xb + (t0 + t) * cols;
      for (int64_t p = 0; p < pairs; ++p) {
        const int64_t c = 2 * p;
        out[t0 * pairs + p * T + t] = uint32_t(row[c]) | (c + 1 < cols ? uint32_t(row[c + 1]) << 16 : 0u);
      }
    }
  }
}

// T tokens against pairs p0..p1-1 of one panel, added to y's rows r0..r0+m-1 (or written, on
// the first block).
template <int T>
SQ_BF16 void panel_tile(const uint32_t* xt, const uint32_t* panel, int64_t p0, int64_t p1, float* y, int64_t rows, int64_t m,
                        bool first) {
  const __mmask16 keep0 = __mmask16(m >= 16 ? 0xffff : (1u << m) - 1);
  const __mmask16 keep1 = __mmask16(m >= 32 ? 0xffff : m <= 16 ? 0 : (1u << (m - 16)) - 1);
  __m512 acc[T][2];
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) {
    acc[t][0] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(keep0, y + t * rows);
    acc[t][1] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(keep1, y + t * rows + 16);
  }
  for (int64_t p = p0; p < p1; ++p) {
    const __m512i w0 = _mm512_loadu_si512(panel + p * kPanel), w1 = _mm512_loadu_si512(panel + p * kPanel + 16);
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) {
      const __m512i b = _mm512_set1_epi32(int32_t(xt[p * T + t]));
      acc[t][0] = _mm512_dpbf16_ps(acc[t][0], reinterpret_cast<const __m512bh&>(w0), reinterpret_cast<const __m512bh&>(b));
      acc[t][1] = _mm512_dpbf16_ps(acc[t][1], reinterpret_cast<const __m512bh&>(w1), reinterpret_cast<const __m512bh&>(b));
    }
  }
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + t * rows, keep0, acc[t][0]);
    _mm512_mask_storeu_ps(y + t * rows + 16, keep1, acc[t][1]);
  }
}

using Tile = void (*)(const uint32_t*, const uint32_t*, int64_t, int64_t, float*, int64_t, int64_t, bool);

Tile tile_for(int T) {
  static constexpr Tile tiles[kTile] = {panel_tile<1>, panel_tile<2>, panel_tile<3>, panel_tile<4>,  panel_tile<5>,  panel_tile<6>,
                                        panel_tile<7>, panel_tile<8>, panel_tile<9>, panel_tile<10>, panel_tile<11>, panel_tile<12>};
  return tiles[T - 1];
}

void panels(const uint16_t* w, const uint16_t* xb, float* y, int64_t rows, int64_t cols, int64_t n) {
  const int64_t pairs = (cols + 1) / 2, panels = (rows + kPanel - 1) / kPanel;
  thread_local std::vector<uint32_t> tokens;
  tokens.resize(size_t(n * pairs));
  interleave_tokens(xb, n, cols, pairs, tokens.data());
  const uint32_t* xi = tokens.data();
#pragma omp parallel
  {
    thread_local std::vector<uint32_t> panel;
    panel.resize(size_t(pairs * kPanel));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t r0 = p * kPanel, m = std::min<int64_t>(kPanel, rows - r0);
      pack_panel(w, r0, m, cols, pairs, panel.data());
      for (int64_t q0 = 0; q0 < pairs; q0 += kPairBlock) {
        const int64_t q1 = std::min(pairs, q0 + kPairBlock);
        for (int64_t t0 = 0; t0 < n; t0 += kTile) {
          const int T = int(std::min<int64_t>(kTile, n - t0));
          tile_for(T)(xi + t0 * pairs, panel.data(), q0, q1, y + t0 * rows + r0, rows, m, q0 == 0);
        }
      }
    }
    if (panel.capacity() > kKeptValues) std::vector<uint32_t>().swap(panel);
  }
  if (tokens.capacity() > kKeptValues) std::vector<uint32_t>().swap(tokens);
}

}  // namespace

const bool kHaveBf16Dot = (__builtin_cpu_init(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16"));

bool bf16_dot_available() { return kHaveBf16Dot; }

SQ_BF16 void round_to_bf16_values(const float* x, float* out, int64_t count) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
    _mm512_storeu_si512(out + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(reinterpret_cast<const __m256i&>(h)), 16));
  }
  for (; i < count; ++i) out[i] = bits_float(uint32_t(round_to_bf16(x[i])) << 16);
}

void bf16_dot_matmul_cpu(const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n) {
  thread_local std::vector<uint16_t> xb;
  xb.resize(size_t(n * cols));
  to_bf16(x, xb.data(), n * cols);
  panels(w, xb.data(), y, rows, cols, n);
  if (xb.capacity() > 2 * kKeptValues) std::vector<uint16_t>().swap(xb);
}

}  // namespace sq::kernels
