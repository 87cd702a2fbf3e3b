// CPU twins of the packed matmuls: AVX2 + FMA where the processor has them (chosen once, when the
// library is loaded), with AVX-512 VNNI's integer dot products for weight-only 4-bit codes where
// it has those too, and a portable loop elsewhere. All walk the rows in parallel and, for each
// row, a few tokens at a time, so that a block of codes is decoded once per tile of tokens.
#include "kernels/intrinsics.h"

#include <algorithm>
#include <cmath>
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

// ---- 4-bit codes with AVX-512 VNNI: activations in fixed point ------------------------------
//
// A float product spends at least three vector operations on 8 codes (decode, convert, FMA); an
// integer dot product takes 64 at once. So where the processor has them, the weight-only 4-bit
// product makes the activations integers without losing what their fp32 values hold: each unit
// of 128 columns is scaled by the power of two that brings its largest value below 2^30 and
// rounded, which is exact for every value above 1/64 of that largest (its ulp is no finer than the
// step) and off by at most 2^-30 of the largest below that. Each integer is split into four bytes,
// X = b0 + 2^8 b1 + 2^16 b2 + 2^24 b3 (b3 signed), and each byte plane meets the codes in exact
// integer dot products, so a unit's sums of q·X are exact. The zero points enter once per group
// as z·Σx, so q − z never has to be formed.
//
// A unit's four blocks have 64 bytes of codes: one vector. Its low nibbles (one vector) and its
// high ones (another) meet activation planes laid out to match: in each, bytes 16b..16b+15 belong
// to block b, so the 32-bit lanes 4b..4b+3 sum block b's products and take block b's group scale.
#define SQ_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr int64_t kUnitColumns = 4 * kPackBlock;
constexpr int64_t kUnitBytes = 4 * 2 * 64;  // 4 planes, 2 vectors of 64 bytes

struct FixedRows {
  int64_t units = 0;
  uint64_t tail_bytes = 0;                  // the code bytes the last unit has
  std::vector<int64_t> first_group;         // [units]
  std::vector<uint16_t> scale_mask;         // [units]: the scales from the first group on that the row has
  std::vector<int32_t> lane_group;          // [units, 16]: each lane's group, less the unit's first
  std::vector<uint8_t> planes;              // [n, units, kUnitBytes]: plane k, vector v at 128 k + 64 v
  std::vector<float> steps;                 // [n, units]: the value of one fixed-point step
  std::vector<float> group_sums;            // [n, groups]: the sums of the rounded activations
  std::vector<double> sums;                 // one token's group sums, in double
};

// A mask of the first `count` of 16 lanes (every lane from 16 on): the loads that must stop at a
// row's last group.
inline uint16_t first_lanes(int64_t count) { return uint16_t(count >= 16 ? 0xFFFF : (1u << count) - 1); }

SQ_AVX512 void fixed_point_rows(const PackedWeights& w, const float* x, int64_t n, FixedRows& a) {
  const int64_t G = w.groups(), blocks = w.cols / kPackBlock, U = (w.cols + kUnitColumns - 1) / kUnitColumns;
  a.units = U;
  const int64_t tail_blocks = blocks - 4 * (U - 1);
  a.tail_bytes = tail_blocks == 4 ? ~uint64_t(0) : (uint64_t(1) << (16 * tail_blocks)) - 1;
  a.first_group.resize(size_t(U));
  a.scale_mask.resize(size_t(U));
  a.lane_group.resize(size_t(16 * U));
  for (int64_t u = 0; u < U; ++u) {
    const int64_t g0 = u * kUnitColumns / w.group;
    a.first_group[size_t(u)] = g0;
    a.scale_mask[size_t(u)] = first_lanes(G - g0);
    for (int64_t lane = 0; lane < 16; ++lane) {
      const int64_t b = 4 * u + lane / 4;
      a.lane_group[size_t(16 * u + lane)] = int32_t(b < blocks ? b * kPackBlock / w.group - g0 : 0);
    }
  }
  a.planes.resize(size_t(n * U * kUnitBytes));
  a.steps.resize(size_t(n * U));
  a.group_sums.resize(size_t(n * G));
  a.sums.resize(size_t(G));
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = x + t * w.cols;
    std::fill(a.sums.begin(), a.sums.end(), 0.0);
    for (int64_t u = 0; u < U; ++u) {
      const int64_t c0 = u * kUnitColumns, width = std::min(kUnitColumns, w.cols - c0);
      __m512 amax = _mm512_setzero_ps(), finite = _mm512_setzero_ps();  // finite: NaN once a value is not
      for (int64_t c = 0; c < width; c += 16) {
        const __m512 v = _mm512_loadu_ps(xt + c0 + c);
        amax = _mm512_max_ps(amax, _mm512_abs_ps(v));
        finite = _mm512_fmadd_ps(v, _mm512_setzero_ps(), finite);
      }
      int e;
      std::frexp(_mm512_reduce_max_ps(amax), &e);  // the largest magnitude is below 2^e
      // A unit holding an infinity or a NaN makes its rows' sums NaN, as the float product would.
      const float step = std::isnan(_mm512_reduce_add_ps(finite)) ? NAN : std::ldexp(1.f, e - 30);
      a.steps[size_t(t * U + u)] = step;
      const __m512 up = _mm512_set1_ps(float(30 - e));
      uint8_t* unit = a.planes.data() + (t * U + u) * kUnitBytes;
      for (int64_t j = 0; j < 8; ++j) {  // 16 columns: block j / 2, low or high nibbles by j % 2
        uint8_t* at = unit + 64 * (j % 2) + 16 * (j / 2);
        __m512i X = _mm512_setzero_si512();
        if (16 * j < width) {
          X = _mm512_cvtps_epi32(_mm512_scalef_ps(_mm512_loadu_ps(xt + c0 + 16 * j), up));  // nearest, exactly scaled
          const double sum = _mm512_reduce_add_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(X))) +
                             _mm512_reduce_add_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(X, 1)));
          a.sums[size_t((c0 + 16 * j) / w.group)] += sum * step;  // exact: integers below 2^34, times a power of two
        }
        for (int k = 0; k < 4; ++k) _mm_storeu_si128(reinterpret_cast<__m128i*>(at + 128 * k), _mm512_cvtepi32_epi8(_mm512_srai_epi32(X, 8 * k)));
      }
    }
    for (int64_t g = 0; g < G; ++g) a.group_sums[size_t(t * G + g)] = float(a.sums[size_t(g)]);
  }
}

// Each lane's group scale in unit u of a row. PerUnit is the number of groups a unit holds when
// groups tile units evenly (1: a group spans whole units; 2, 4: groups of 64, 32 columns), so that
// the lanes' pattern is fixed; 0 looks each lane's group up, for the groups that do not.
template <int PerUnit>
SQ_AVX512 inline __m512 unit_scales(const FixedRows& a, const float* scales, int64_t u) {
  const float* first = scales + a.first_group[size_t(u)];
  if (PerUnit == 1) return _mm512_set1_ps(*first);
  if (PerUnit == 0)
    return _mm512_permutexvar_ps(_mm512_loadu_si512(a.lane_group.data() + 16 * u), _mm512_maskz_loadu_ps(a.scale_mask[size_t(u)], first));
  const __m512i lanes = _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), PerUnit == 4 ? 2 : 3);
  return _mm512_permutexvar_ps(lanes, _mm512_maskz_loadu_ps(a.scale_mask[size_t(u)] & ((1u << PerUnit) - 1), first));
}

// Row r of 4-bit codes against tokens t0..t0+NT-1 in fixed point.
template <int NT, int PerUnit>
SQ_AVX512 void row_tile_vnni(const PackedWeights& w, int64_t r, const FixedRows& a, float* y, int64_t t0) {
  const int64_t G = w.groups(), U = a.units;
  const uint8_t* codes = w.codes + r * w.row_bytes();
  const float* scales = w.scales + r * G;
  const __m512i low = _mm512_set1_epi8(0x0F);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t u = 0; u < U; ++u, codes += kUnitColumns / 2) {
    // Eight units ahead: the codes stream from memory once per call, and the processor's own
    // prefetch alone left a tenth of the time waiting for them.
    _mm_prefetch(reinterpret_cast<const char*>(codes) + 8 * kUnitColumns / 2, _MM_HINT_T0);
    const __m512i both = u + 1 < U ? _mm512_loadu_si512(codes) : _mm512_maskz_loadu_epi8(a.tail_bytes, codes);
    const __m512i nibbles[2] = {_mm512_and_si512(both, low), _mm512_and_si512(_mm512_srli_epi16(both, 4), low)};
    const __m512 s = unit_scales<PerUnit>(a, scales, u);
    for (int t = 0; t < NT; ++t) {
      const uint8_t* planes = a.planes.data() + ((t0 + t) * U + u) * kUnitBytes;
      const auto plane = [planes](int k, int v) SQ_AVX512 { return _mm512_loadu_si512(planes + 128 * k + 64 * v); };
      __m512i A[4];
      for (int k = 0; k < 4; ++k) A[k] = _mm512_setzero_si512();
      for (int v = 0; v < 2; ++v) {
        for (int k = 0; k < 3; ++k) A[k] = _mm512_dpbusd_epi32(A[k], plane(k, v), nibbles[v]);
        A[3] = _mm512_dpbusd_epi32(A[3], nibbles[v], plane(3, v));  // the signed top byte
      }
      // Each lane's two halves stay below 2^24 (8 products of at most 255 · 15, times 257): exact as floats.
      const __m512i lower = _mm512_add_epi32(A[0], _mm512_slli_epi32(A[1], 8));
      const __m512i upper = _mm512_add_epi32(A[2], _mm512_slli_epi32(A[3], 8));
      const __m512 sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(upper), _mm512_set1_ps(65536.f), _mm512_cvtepi32_ps(lower));
      acc[t] = _mm512_fmadd_ps(sum, _mm512_mul_ps(s, _mm512_set1_ps(a.steps[size_t((t0 + t) * U + u)])), acc[t]);
    }
  }
  // The zero points' share, z·s·Σx per group.
  const float* zeros = w.zeros + r * G;
  for (int t = 0; t < NT; ++t) {
    const float* sums = a.group_sums.data() + (t0 + t) * G;
    __m512 z = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; g += 16) {
      const __mmask16 m = first_lanes(G - g);
      z = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, scales + g), _mm512_maskz_loadu_ps(m, zeros + g)),
                          _mm512_maskz_loadu_ps(m, sums + g), z);
    }
    y[(t0 + t) * w.rows + r] = _mm512_reduce_add_ps(acc[t]) - _mm512_reduce_add_ps(z);
  }
}

SQ_AVX512 void matmul_nibbles_vnni(const PackedWeights& w, const float* x, float* y, int64_t n) {
  // Kept by the calling thread, as the AVX2 path's reordered activations are.
  thread_local FixedRows kept;
  FixedRows& a = kept;
  fixed_point_rows(w, x, n, a);
  const auto tiles = [&](auto per_unit) {
    // Two tokens a tile: their planes (32 KB at 4096 columns) stay in the first-level cache, four would not.
    rows_in_tiles<2>(w.rows, n, [&](int64_t r, int64_t t0, auto nt) { row_tile_vnni<nt(), per_unit()>(w, r, a, y, t0); });
  };
  if (w.group % kUnitColumns == 0)
    tiles(std::integral_constant<int, 1>{});
  else if (w.group == kUnitColumns / 2)
    tiles(std::integral_constant<int, 2>{});
  else if (w.group == kUnitColumns / 4)
    tiles(std::integral_constant<int, 4>{});
  else
    tiles(std::integral_constant<int, 0>{});
}

// Read while the library's constructors run, hence the explicit init.
const bool kHaveAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
const bool kHaveVnni = kHaveAvx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");

// What a path runs on this processor.
enum class Isa { Portable, Avx2, Vnni };
Isa isa(CpuPath path) {
  if (path == CpuPath::Portable || !kHaveAvx2) return Isa::Portable;
  return path == CpuPath::Best && kHaveVnni ? Isa::Vnni : Isa::Avx2;
}

}  // namespace

bool cpu_vectorized() { return kHaveAvx2; }

const char* cpu_path_name(CpuPath path) {
  static const char* const names[] = {"portable", "AVX2 + FMA", "AVX2 + FMA with AVX-512 VNNI"};
  return names[int(isa(path))];
}

void packed_matmul_cpu(const PackedWeights& w, const float* x, float* y, int64_t n, CpuPath path) {
  const Isa i = isa(path);
  if (i == Isa::Vnni && w.bits == 4)
    matmul_nibbles_vnni(w, x, y, n);
  else
    (i == Isa::Portable ? matmul_portable : matmul_avx2)(w, x, y, n);
}

void packed_matmul_int_cpu(const PackedWeights& w, const float* x, float* y, int64_t n, int act_bits, CpuPath path) {
  thread_local IntRows q;  // kept by the calling thread, as the weight-only input is
  quantize_rows(x, n, w.cols, w.group, act_bits, q);
  (isa(path) == Isa::Portable ? matmul_int_portable : matmul_int_avx2)(w, q, y, n);
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
