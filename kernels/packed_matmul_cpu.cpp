// CPU twins of the packed matmuls: AVX2 + FMA where the processor has them (chosen once, when the
// library is loaded), a portable loop elsewhere. Both walk the rows in parallel and, for each
// row, a few tokens at a time, so that a block of codes is decoded once per tile of tokens.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/avx2_sum.h"
#include "kernels/kernel_impl.h"
#include "kernels/packed_math.h"
#include "kernels/row_tiles.h"

namespace sq::kernels {
namespace {

// x's rows quantized per token: codes [n, cols], scales [n], and each group's sum of codes
// [n, groups] (for the zero points).
struct IntRows {
  std::vector<int8_t> codes;
  std::vector<float> scales;
  std::vector<int32_t> sums;
};

void quantize_rows(const float* x, int64_t n, int64_t cols, int64_t group, int bits, IntRows& q) {
  q.codes.resize(size_t(n * cols));
  q.scales.resize(size_t(n));
  q.sums.assign(size_t(n * (cols / group)), 0);
  const float qmax = symmetric_qmax(bits);
#pragma omp parallel for schedule(static) if (n * cols > (1 << 16))
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = x + t * cols;
    float amax = 0.f;
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(xt[c]));
    const float scale = symmetric_scale(amax, qmax);
    q.scales[size_t(t)] = scale;
    for (int64_t c = 0; c < cols; ++c) {
      const int8_t v = activation_code(xt[c], scale, qmax);
      q.codes[size_t(t * cols + c)] = v;
      q.sums[size_t(t * (cols / group) + c / group)] += v;
    }
  }
}

// ---- portable ------------------------------------------------------------------------------

void matmul_portable(const PackedWeights& w, const float* x, float* y, int64_t n) {
  const int64_t G = w.groups();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* row = w.codes + r * w.row_bytes();
    for (int64_t t = 0; t < n; ++t) {
      const float* xt = x + t * w.cols;
      float acc = 0.f;
      for (int64_t g = 0; g < G; ++g) {
        const float z = w.zeros[r * G + g];
        float s = 0.f;
        for (int64_t c = g * w.group; c < (g + 1) * w.group; ++c) s += (float(packed_code(row, c, w.bits)) - z) * xt[c];
        acc += s * w.scales[r * G + g];
      }
      y[t * w.rows + r] = acc;
    }
  }
}

void matmul_int_portable(const PackedWeights& w, const IntRows& q, float* y, int64_t n) {
  const int64_t G = w.groups();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* row = w.codes + r * w.row_bytes();
    for (int64_t t = 0; t < n; ++t) {
      const int8_t* xt = q.codes.data() + t * w.cols;
      float acc = 0.f;
      for (int64_t g = 0; g < G; ++g) {
        int32_t dot = 0;
        for (int64_t c = g * w.group; c < (g + 1) * w.group; ++c) dot += packed_code(row, c, w.bits) * int32_t(xt[c]);
        const float v = float(dot) - w.zeros[r * G + g] * float(q.sums[size_t(t * G + g)]);
        acc += v * w.scales[r * G + g];
      }
      y[t * w.rows + r] = acc * q.scales[size_t(t)];
    }
  }
}

// ---- AVX2 + FMA ----------------------------------------------------------------------------

#define SQ_AVX2 __attribute__((target("avx2,fma")))

// The activations as the weight-only tiles read 4-bit codes, prepared once per call for every
// row. A code is never shifted down: a half block of codes (8 bytes) is broadcast to every lane
// and each lane masks one nibble in place, leaving q·16^k for the nibble k of its 32-bit word; the
// activation that lane meets is divided by 16^k here (a power of two: exact above 2^-114, so each
// product is that of q·x). The second vector of a half block is the broadcast shifted right by 16
// bits, so that every lane's nibble lies in the low 16 bits, inside the mantissa that
// nibble_lane_values writes it into.
constexpr int kLaneColumn[8] = {0, 4, 16, 20, 1, 5, 17, 21};  // + 2 in the shifted vector
constexpr float kLaneScale[8] = {1.f, 1.f, 1.f / 16, 1.f / 16, 1.f / 256, 1.f / 256, 1.f / 4096, 1.f / 4096};

void nibble_lanes(const PackedWeights& w, const float* x, int64_t n, float* f) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = x + t * w.cols;
    float* out = f + t * w.cols;
    for (int64_t b = 0; b < w.cols; b += kPackBlock)
      for (int half = 0; half < 2; ++half)
        for (int shifted = 0; shifted < 2; ++shifted)
          for (int lane = 0; lane < 8; ++lane)
            out[b + 16 * half + 8 * shifted + lane] = xt[b + 8 * half + kLaneColumn[lane] + 2 * shifted] * kLaneScale[lane];
  }
}

// q·16^k becomes a float without a conversion: OR'd into the mantissa of 2^23 it is the float
// 2^23 + q·16^k, and subtracting `zero` (2^23 + z·16^k per lane) leaves (q − z)·16^k exactly.
SQ_AVX2 inline __m256 nibble_lane_values(__m256i words, __m256 zero) {
  const __m256i mask = _mm256_setr_epi32(0xF, 0xF, 0xF0, 0xF0, 0xF00, 0xF00, 0xF000, 0xF000);
  const __m256i exponent = _mm256_set1_epi32(0x4B000000);  // 2^23
  return _mm256_sub_ps(_mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(words, mask), exponent)), zero);
}

// What a group's codes subtract, as decode_block wants it: z for bytes, 2^23 + z·16^k per lane
// for 4-bit codes.
template <int Bits>
SQ_AVX2 inline __m256 group_zero(float z) {
  if (Bits == 8) return _mm256_set1_ps(z);
  const __m256 lane_scale = _mm256_setr_ps(1.f, 1.f, 16.f, 16.f, 256.f, 256.f, 4096.f, 4096.f);
  return _mm256_fmadd_ps(_mm256_set1_ps(z), lane_scale, _mm256_set1_ps(8388608.f));
}

// A block of 32 codes from column c as four vectors of code - z (exact: z is a whole number): in
// column order for bytes, scaled per lane for 4-bit codes, in the order nibble_lanes gives the
// activations.
template <int Bits>
SQ_AVX2 inline void decode_block(const uint8_t* row, int64_t c, __m256 zero, __m256 out[4]) {
  if (Bits == 8) {
    for (int k = 0; k < 4; ++k) {
      const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + c + 8 * k));
      out[k] = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), zero);
    }
    return;
  }
  const uint8_t* block = row + c / 2;
  for (int half = 0; half < 2; ++half) {
    int64_t bytes;
    std::memcpy(&bytes, block + 8 * half, 8);
    const __m256i words = _mm256_set1_epi64x(bytes);
    out[2 * half] = nibble_lane_values(words, zero);
    out[2 * half + 1] = nibble_lane_values(_mm256_srli_epi64(words, 16), zero);
  }
}

// Row r against tokens t0..t0+NT-1. Each token sums into kChains / NT independent chains, so that
// the FMAs' latency overlaps however few tokens there are.
template <int NT, int Bits>
SQ_AVX2 void row_tile(const PackedWeights& w, int64_t r, const float* x, float* y, int64_t t0) {
  constexpr int A = NT == 1 ? 4 : 2;  // chains per token
  const int64_t G = w.groups();
  const uint8_t* row = w.codes + r * w.row_bytes();
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    const __m256 zero = group_zero<Bits>(w.zeros[r * G + g]);
    __m256 part[NT][A];
    for (int t = 0; t < NT; ++t)
      for (int a = 0; a < A; ++a) part[t][a] = _mm256_setzero_ps();
    for (int64_t c = g * w.group; c < (g + 1) * w.group; c += kPackBlock) {
      __m256 v[4];
      decode_block<Bits>(row, c, zero, v);
      for (int t = 0; t < NT; ++t) {
        const float* xt = x + (t0 + t) * w.cols + c;
        for (int k = 0; k < 4; ++k) part[t][k % A] = _mm256_fmadd_ps(v[k], _mm256_loadu_ps(xt + 8 * k), part[t][k % A]);
      }
    }
    const __m256 s = _mm256_set1_ps(w.scales[r * G + g]);
    for (int t = 0; t < NT; ++t) {
      __m256 sum = part[t][0];
      for (int a = 1; a < A; ++a) sum = _mm256_add_ps(sum, part[t][a]);
      acc[t] = _mm256_fmadd_ps(sum, s, acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) y[(t0 + t) * w.rows + r] = hsum(acc[t]);
}

// A block of 32 codes from column c as 32 signed bytes, in column order.
SQ_AVX2 inline __m256i load_codes(const uint8_t* row, int64_t c, int bits) {
  if (bits == 8) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c));
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 2));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
}

template <int NT>
SQ_AVX2 void row_tile_int(const PackedWeights& w, int64_t r, const IntRows& q, float* y, int64_t t0) {
  const int64_t G = w.groups();
  const uint8_t* row = w.codes + r * w.row_bytes();
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  float zero_terms[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps(), zero_terms[t] = 0.f;
  for (int64_t g = 0; g < G; ++g) {
    __m256i part[NT];
    for (int t = 0; t < NT; ++t) part[t] = _mm256_setzero_si256();
    for (int64_t c = g * w.group; c < (g + 1) * w.group; c += kPackBlock) {
      const __m256i wv = load_codes(row, c, w.bits);
      // maddubs multiplies unsigned by signed bytes: nibbles are unsigned already; signed bytes
      // lend their sign to the activations. Pair sums stay within int16 (|w| <= 128, |x| <= 127).
      const __m256i wu = w.bits == 8 ? _mm256_sign_epi8(wv, wv) : wv;
      for (int t = 0; t < NT; ++t) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q.codes.data() + (t0 + t) * w.cols + c));
        const __m256i xs = w.bits == 8 ? _mm256_sign_epi8(xv, wv) : xv;
        part[t] = _mm256_add_epi32(part[t], _mm256_madd_epi16(_mm256_maddubs_epi16(wu, xs), ones));
      }
    }
    const float scale = w.scales[r * G + g], zs = w.zeros[r * G + g] * scale;
    const __m256 s = _mm256_set1_ps(scale);
    for (int t = 0; t < NT; ++t) {
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(part[t]), s, acc[t]);
      zero_terms[t] += zs * float(q.sums[size_t((t0 + t) * G + g)]);
    }
  }
  for (int t = 0; t < NT; ++t) y[(t0 + t) * w.rows + r] = (hsum(acc[t]) - zero_terms[t]) * q.scales[size_t(t0 + t)];
}

SQ_AVX2 void matmul_avx2(const PackedWeights& w, const float* x, float* y, int64_t n) {
  if (w.bits == 8) {
    rows_in_tiles(w.rows, n, [&](int64_t r, int64_t t0, auto nt) { row_tile<decltype(nt)::value, 8>(w, r, x, y, t0); });
    return;
  }
  // Kept by the calling thread: a decode step comes here once per layer, and a batch's copy
  // (16 tokens of 4096: 256 KB) would be fresh pages each time.
  thread_local std::vector<float> kept;
  kept.resize(size_t(n * w.cols));
  nibble_lanes(w, x, n, kept.data());
  const float* lanes = kept.data();
  rows_in_tiles(w.rows, n, [&](int64_t r, int64_t t0, auto nt) { row_tile<decltype(nt)::value, 4>(w, r, lanes, y, t0); });
}

SQ_AVX2 void matmul_int_avx2(const PackedWeights& w, const IntRows& q, float* y, int64_t n) {
  rows_in_tiles(w.rows, n, [&](int64_t r, int64_t t0, auto nt) { row_tile_int<decltype(nt)::value>(w, r, q, y, t0); });
}

// Read while the library's constructors run, hence the explicit init.
const bool kHaveAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));

}  // namespace

bool cpu_vectorized() { return kHaveAvx2; }

void packed_matmul_cpu(const PackedWeights& w, const float* x, float* y, int64_t n, bool vectorized) {
  (vectorized && kHaveAvx2 ? matmul_avx2 : matmul_portable)(w, x, y, n);
}

void packed_matmul_int_cpu(const PackedWeights& w, const float* x, float* y, int64_t n, int act_bits, bool vectorized) {
  thread_local IntRows q;  // kept by the calling thread, as the weight-only input is
  quantize_rows(x, n, w.cols, w.group, act_bits, q);
  (vectorized && kHaveAvx2 ? matmul_int_avx2 : matmul_int_portable)(w, q, y, n);
}

void packed_dequantize_cpu(const PackedWeights& w, int64_t row0, int64_t n_rows, float* out) {
  const int64_t G = w.groups();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n_rows; ++i) {
    const int64_t r = row0 + i;
    const uint8_t* row = w.codes + r * w.row_bytes();
    float* o = out + i * w.cols;
    for (int64_t g = 0; g < G; ++g) {
      const float z = w.zeros[r * G + g], s = w.scales[r * G + g];
      for (int64_t c = g * w.group; c < (g + 1) * w.group; c += kPackBlock) {
        if (w.bits == 8) {
          for (int64_t j = 0; j < kPackBlock; ++j) o[c + j] = (float(int8_t(row[c + j])) - z) * s;
        } else {
          const uint8_t* b = row + c / 2;
          for (int64_t j = 0; j < 16; ++j) {
            o[c + j] = (float(b[j] & 0x0F) - z) * s;
            o[c + 16 + j] = (float(b[j] >> 4) - z) * s;
          }
        }
      }
    }
  }
}

}  // namespace sq::kernels
