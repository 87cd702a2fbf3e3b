#include "core/io/ggml_kquants.h"

#include <math.h>

#include <algorithm>
#include <cfloat>
#include <cstring>

#include "core/error.h"
#include "kernels/half.h"

// Bit-exactness with ggml needs every float operation in its order and unfused: this file is
// built with -ffp-contract=off (core/CMakeLists.txt), and each expression below keeps ggml's
// evaluation order.

namespace sq {
namespace {

constexpr int kSuper = 256;
constexpr float kGroupMaxEps = 1e-15f;

using kernels::fp16_to_fp32;
using kernels::fp32_to_fp16;

// ggml's rounding: adding 1.5 * 2^23 leaves the rounded integer (ties to even) in the mantissa.
int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

void put_half(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}
float get_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// The value of largest magnitude, the first of equals (ggml's `max` beside `amax`).
float largest_magnitude(const float* x, int n) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
  return max;
}

// The signed level of v (already scaled) on -nmax..nmax-1.
int clamped_level(float v, int nmax) { return std::max(-nmax, std::min(nmax - 1, nearest_int(v))); }

// Signed levels -nmax..nmax-1 for n values by a weighted least-squares scale search over 19
// trial scales around nmax / max (weights x², as the reference without an importance matrix);
// L receives level + nmax. Returns the scale.
float signed_levels_rmse(int n, int nmax, const float* x, int8_t* L) {
  const float max = largest_magnitude(x, n);
  if (fabsf(max) < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamped_level(iscale * x[i], nmax);
    L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamped_level(iscale * x[i], nmax);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = int8_t(nmax + clamped_level(iscale * x[i], nmax));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's sub-block search: start from nmax / max, then move single levels while the weighted
// fit improves (at most five sweeps). L receives level + nmax.
float signed_levels_refined(int n, int nmax, const float* x, int8_t* L) {
  const float max = largest_magnitude(x, n);
  if (fabsf(max) < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamped_level(iscale * x[i], nmax);
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        const int nl = clamped_level(x[i] * sl2 / slx, nmax);
        if (nl != L[i]) {
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(nl);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Levels 0..nmax with a scale and a (non-positive) offset fitted by weighted least squares over
// nstep + 1 trial scales; *neg_min receives minus the offset. Returns the scale.
float offset_levels(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min, uint8_t* Laux, float rmin,
                    float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = uint8_t(std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min)))));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? fabsf(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
      Laux[i] = uint8_t(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        std::memcpy(L, Laux, size_t(n));
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

// Q4_K / Q5_K: the eight 6-bit sub-block scales and mins in 12 bytes.
void pack_scale_min(uint8_t* s, int j, uint8_t ls, uint8_t lm) {
  if (j < 4) {
    s[j] = ls;
    s[j + 4] = lm;
  } else {
    s[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
    s[j - 4] |= uint8_t((ls >> 4) << 6);
    s[j] |= uint8_t((lm >> 4) << 6);
  }
}
void unpack_scale_min(int j, const uint8_t* s, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = uint8_t((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    m = uint8_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q4_K and Q5_K share everything but the level count and the search's trial scales.
void encode_q45_k(const float* x, uint8_t* y, int nmax, float rmin, int nstep, uint8_t* L) {
  float mins[8], scales[8], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = sqrtf(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
    scales[j] = offset_levels(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  uint8_t* s = y + 4;
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
    pack_scale_min(s, j, ls, lm);
  }
  put_half(y, max_scale / 63.f);
  put_half(y + 2, max_min / 63.f);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min(j, s, sc, m);
    const float d = get_half(y) * sc;
    if (!d) continue;
    const float dm = get_half(y + 2) * m;
    for (int i = 0; i < 32; ++i) L[32 * j + i] = uint8_t(std::max(0, std::min(nmax, nearest_int((x[32 * j + i] + dm) / d))));
  }
}

void encode_q4_k(const float* x, uint8_t* y) {
  uint8_t L[kSuper];
  encode_q45_k(x, y, 15, -1.f, 20, L);
  uint8_t* q = y + 16;
  for (int j = 0; j < kSuper; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
}

void encode_q5_k(const float* x, uint8_t* y) {
  uint8_t L[kSuper];
  encode_q45_k(x, y, 31, -0.5f, 15, L);
  uint8_t* qh = y + 16;
  uint8_t* ql = y + 48;
  std::memset(qh, 0, 32);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kSuper; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) l1 -= 16, qh[j] |= m1;
      if (l2 > 15) l2 -= 16, qh[j] |= m2;
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
  }
}

// Four 2-bit levels per byte: byte l of each 32-byte row holds values l, l + 32, l + 64, l + 96
// of its 128.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kSuper; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

void encode_q2_k(const float* x, uint8_t* y) {
  uint8_t L[kSuper], Laux[16];
  float weights[16], mins[16], scales[16];
  uint8_t* sc = y;
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = fabsf(x[16 * j + l]);
    scales[j] = offset_levels(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float q4scale = 15.f;
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < 16; ++j) sc[j] = uint8_t(nearest_int(iscale * scales[j]));
    put_half(y + 80, max_scale / q4scale);
  } else {
    std::memset(sc, 0, 16);
    put_half(y + 80, 0.f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < 16; ++j) sc[j] = uint8_t(sc[j] | (nearest_int(iscale * mins[j]) << 4));
    put_half(y + 82, max_min / q4scale);
  } else {
    put_half(y + 82, 0.f);
  }
  for (int j = 0; j < 16; ++j) {
    const float d = get_half(y + 80) * (sc[j] & 0xF);
    if (!d) continue;
    const float dm = get_half(y + 82) * (sc[j] >> 4);
    for (int i = 0; i < 16; ++i) L[16 * j + i] = uint8_t(std::max(0, std::min(3, nearest_int((x[16 * j + i] + dm) / d))));
  }
  pack_2bit(L, y + 16);
}

int q3_scale(const uint8_t* s, int j) {
  const int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  return int8_t(low | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

void encode_q3_k(const float* x, uint8_t* y) {
  int8_t L[kSuper];
  float scales[16];
  uint8_t* hmask = y;
  uint8_t* s = y + 96;
  for (int j = 0; j < 16; ++j) scales[j] = signed_levels_refined(16, 4, x + 16 * j, L + 16 * j);
  const float max_scale = largest_magnitude(scales, 16);
  std::memset(s, 0, 12);
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < 16; ++j) {
      int8_t l = int8_t(nearest_int(iscale * scales[j]));
      l = int8_t(std::max<int>(-32, std::min<int>(31, l)) + 32);
      if (j < 8)
        s[j] = uint8_t(l & 0xF);
      else
        s[j - 8] = uint8_t(s[j - 8] | ((l & 0xF) << 4));
      l = int8_t(l >> 4);
      s[j % 4 + 8] = uint8_t(s[j % 4 + 8] | (l << (2 * (j / 4))));
    }
    put_half(y + 108, 1 / iscale);
  } else {
    put_half(y + 108, 0.f);
  }
  for (int j = 0; j < 16; ++j) {
    const float d = get_half(y + 108) * q3_scale(s, j);
    if (!d) continue;
    for (int i = 0; i < 16; ++i) L[16 * j + i] = int8_t(std::max(-4, std::min(3, nearest_int(x[16 * j + i] / d))) + 4);
  }
  // The third bit: values 0-31 in bit 0 of hmask[0..31], values 32-63 in bit 1, and so on.
  std::memset(hmask, 0, 32);
  uint8_t low[kSuper];
  for (int j = 0; j < kSuper; ++j) {
    int v = L[j];
    if (v > 3) hmask[j % 32] = uint8_t(hmask[j % 32] | (1 << (j / 32))), v -= 4;
    low[j] = uint8_t(v);
  }
  pack_2bit(low, y + 32);
}

void encode_q6_k(const float* x, uint8_t* y) {
  int8_t L[kSuper];
  float scales[16];
  for (int ib = 0; ib < 16; ++ib) scales[ib] = signed_levels_rmse(16, 32, x + 16 * ib, L + 16 * ib);
  const float max_scale = largest_magnitude(scales, 16);
  uint8_t* ql = y;
  uint8_t* qh = y + 128;
  int8_t* sc = reinterpret_cast<int8_t*>(y + 192);
  if (fabsf(max_scale) < kGroupMaxEps) {
    std::memset(y, 0, 210);
    put_half(y + 208, 0.f);
    return;
  }
  const float iscale = -128.f / max_scale;
  put_half(y + 208, 1 / iscale);
  for (int ib = 0; ib < 16; ++ib) sc[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < 16; ++j) {
    const float d = get_half(y + 208) * sc[j];
    if (!d) continue;
    for (int i = 0; i < 16; ++i) L[16 * j + i] = int8_t(std::max(-32, std::min(31, nearest_int(x[16 * j + i] / d))) + 32);
  }
  for (int j = 0; j < kSuper; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
      ql[l] = uint8_t(q1 | (q3 << 4));
      ql[l + 32] = uint8_t(q2 | (q4 << 4));
      qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
    }
  }
}

// Q5_0 / Q5_1: the fifth bit of value j in bit j of a little-endian 32-bit word.
void put_fifth_bits(uint8_t* qh, uint8_t* qs, const uint8_t* codes) {
  uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = uint8_t((codes[j] & 0x0F) | ((codes[j + 16] & 0x0F) << 4));
    h |= uint32_t((codes[j] & 0x10u) >> 4) << j;
    h |= uint32_t((codes[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh, &h, 4);
}

void encode_q5_0(const float* x, uint8_t* y) {
  const float d = largest_magnitude(x, 32) / -16;
  const float id = d ? 1.0f / d : 0.0f;
  put_half(y, d);
  uint8_t codes[32];
  for (int j = 0; j < 32; ++j) codes[j] = uint8_t(std::min<int>(31, int8_t(x[j] * id + 16.5f)));
  put_fifth_bits(y + 2, y + 6, codes);
}

void encode_q5_1(const float* x, uint8_t* y) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) min = x[j] < min ? x[j] : min, max = x[j] > max ? x[j] : max;
  const float d = (max - min) / ((1 << 5) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  put_half(y, d);
  put_half(y + 2, min);
  uint8_t codes[32];
  for (int j = 0; j < 32; ++j) codes[j] = uint8_t((x[j] - min) * id + 0.5f);
  put_fifth_bits(y + 4, y + 8, codes);
}

void decode_q2_k(const uint8_t* b, float* y) {
  const float d = get_half(b + 80), min = get_half(b + 82);
  const uint8_t* q = b + 16;
  int is = 0;
  for (int n = 0; n < kSuper; n += 128, q += 32)
    for (int shift = 0; shift < 8; shift += 2)
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = b[is++];
        const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * int8_t((q[l + 16 * half] >> shift) & 3) - ml;
      }
}

void decode_q3_k(const uint8_t* b, float* y) {
  const float d_all = get_half(b + 108);
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < kSuper; n += 128, q += 32)
    for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1))
      for (int half = 0; half < 2; ++half) {
        const float dl = d_all * q3_scale(b + 96, is++);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * (int8_t((q[l + 16 * half] >> shift) & 3) - ((hm[l + 16 * half] & m) ? 0 : 4));
      }
}

void decode_q45_k(const uint8_t* b, float* y, bool five) {
  const float d = get_half(b), min = get_half(b + 2);
  const uint8_t* s = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + (five ? 48 : 16);
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < kSuper; j += 64, q += 32, is += 2, u1 = uint8_t(u1 << 2), u2 = uint8_t(u2 << 2)) {
    uint8_t sc, m;
    unpack_scale_min(is, s, sc, m);
    const float d1 = d * sc, m1 = min * m;
    unpack_scale_min(is + 1, s, sc, m);
    const float d2 = d * sc, m2 = min * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * ((q[l] & 0xF) + (five && (qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * ((q[l] >> 4) + (five && (qh[l] & u2) ? 16 : 0)) - m2;
  }
}

void decode_q6_k(const uint8_t* b, float* y) {
  const float d = get_half(b + 208);
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  for (int n = 0; n < kSuper; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int8_t q1 = int8_t(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      const int8_t q2 = int8_t(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      const int8_t q3 = int8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      const int8_t q4 = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
  }
}

void decode_q5_01(const uint8_t* b, float* y, bool with_min) {
  const float d = get_half(b), m = with_min ? get_half(b + 2) : 0.f;
  const uint8_t* qh_bytes = b + (with_min ? 4 : 2);
  const uint8_t* qs = qh_bytes + 4;
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    const int x0 = (qs[j] & 0x0F) | (((qh >> j) << 4) & 0x10);
    const int x1 = (qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
    if (with_min) {
      y[j] = x0 * d + m;
      y[j + 16] = x1 * d + m;
    } else {
      y[j] = (x0 - 16) * d;
      y[j + 16] = (x1 - 16) * d;
    }
  }
}

using Encoder = void (*)(const float*, uint8_t*);
using Decoder = void (*)(const uint8_t*, float*);

struct Codec {
  GgmlType type;
  Encoder encode;
  Decoder decode;
};

const Codec kCodecs[] = {
    {GgmlType::Q2_K, encode_q2_k, decode_q2_k},
    {GgmlType::Q3_K, encode_q3_k, decode_q3_k},
    {GgmlType::Q4_K, encode_q4_k, [](const uint8_t* b, float* y) { decode_q45_k(b, y, false); }},
    {GgmlType::Q5_K, encode_q5_k, [](const uint8_t* b, float* y) { decode_q45_k(b, y, true); }},
    {GgmlType::Q6_K, encode_q6_k, decode_q6_k},
    {GgmlType::Q5_0, encode_q5_0, [](const uint8_t* b, float* y) { decode_q5_01(b, y, false); }},
    {GgmlType::Q5_1, encode_q5_1, [](const uint8_t* b, float* y) { decode_q5_01(b, y, true); }},
};

const Codec& codec(GgmlType t) {
  for (const Codec& c : kCodecs)
    if (c.type == t) return c;
  throw Error(std::string("ggml encodings: ") + ggml_type_name(t) + " is not a K-quant or 5-bit block type");
}

}  // namespace

bool is_kquant_family(GgmlType t) {
  return std::any_of(std::begin(kCodecs), std::end(kCodecs), [t](const Codec& c) { return c.type == t; });
}

void quantize_row_reference(GgmlType t, const float* x, int64_t n, uint8_t* out) {
  const Codec& c = codec(t);
  const int64_t block = ggml_block_size(t), bytes = int64_t(ggml_row_bytes(t, block));
  for (int64_t b = 0; b < n / block; ++b) c.encode(x + b * block, out + b * bytes);
}

void dequantize_row_reference(GgmlType t, const uint8_t* in, int64_t n, float* out) {
  const Codec& c = codec(t);
  const int64_t block = ggml_block_size(t), bytes = int64_t(ggml_row_bytes(t, block));
  for (int64_t b = 0; b < n / block; ++b) c.decode(in + b * bytes, out + b * block);
}

}  // namespace sq
