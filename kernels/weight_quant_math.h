#pragma once
// Per-group weight quantization math shared by the CPU twins and the CUDA kernels: the integer
// grids of the project's schemes and llama.cpp's Q8_0 / Q4_0 block rules (bit for bit).
#include <math.h>
#include <stdint.h>

#include "kernels/half.h"
#include "kernels/hostdevice.h"

namespace sq::kernels {

// GgufK: llama.cpp's K-quant super-blocks (Q2_K..Q6_K by the bit width), whose sub-block scales
// depend on the whole super-block of 256 values; core/quantized/ggml_grid computes them on the
// host, and these kernels refuse them.
enum class GridKind : int { Symmetric = 0, Asymmetric = 1, GgufQ8_0 = 2, GgufQ4_0 = 3, GgufK = 4 };

struct GroupParams {
  float scale;  // dequantized value = (code - zero) * scale
  float zero;
};

// The scale and zero point of one group of n values; `clip` in (0, 1] shrinks the range
// (learnable weight clipping).
SQ_HOST_DEVICE GroupParams group_params(const float* x, int64_t n, int bits, GridKind kind, float clip) {
  GroupParams p{1.f, 0.f};
  if (kind == GridKind::Asymmetric) {
    float lo = x[0], hi = x[0];
    for (int64_t i = 1; i < n; ++i) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    lo *= clip;
    hi *= clip;
    const float levels = float((1 << bits) - 1);
    p.scale = fmaxf((hi - lo) / levels, 1e-8f);
    p.zero = rintf(-lo / p.scale);
    return p;
  }
  if (kind == GridKind::GgufQ4_0) {
    float amax = 0.f, max = 0.f;
    for (int64_t i = 0; i < n; ++i)
      if (amax < fabsf(x[i])) amax = fabsf(x[i]), max = x[i];
    p.scale = max / -8;  // the fp32 scale the codes are computed with
    p.zero = 8.f;
    return p;
  }
  float amax = 0.f;
  for (int64_t i = 0; i < n; ++i) amax = fmaxf(amax, fabsf(x[i]));
  if (kind == GridKind::GgufQ8_0) {
    p.scale = amax / 127;
    return p;
  }
  amax *= clip;
  const float qmax = float((1 << (bits - 1)) - 1);
  p.scale = amax > 0.f ? amax / qmax : 1.f;
  return p;
}

// The integer code of x in its group.
SQ_HOST_DEVICE int32_t quantize_value(float x, GroupParams p, int bits, GridKind kind) {
  switch (kind) {
    case GridKind::GgufQ8_0: {
      const float id = p.scale != 0.f ? 1.f / p.scale : 0.f;
      return int32_t(roundf(x * id));  // llama.cpp: roundf, ties away from zero
    }
    case GridKind::GgufQ4_0: {
      const float id = p.scale != 0.f ? 1.f / p.scale : 0.f;
      const int8_t q = int8_t(x * id + 8.5f);  // llama.cpp truncates after adding 8.5
      return q > 15 ? 15 : q;
    }
    case GridKind::Asymmetric: {
      const float q = rintf(x / p.scale) + p.zero;
      return int32_t(fminf(fmaxf(q, 0.f), float((1 << bits) - 1)));
    }
    case GridKind::Symmetric:
    case GridKind::GgufK:  // refused before the kernels run (dispatch.cpp)
      break;
  }
  const float qmax = float((1 << (bits - 1)) - 1);
  return int32_t(fminf(fmaxf(rintf(x / p.scale), -qmax), qmax));
}

// The scale a runtime dequantizes with: GGUF blocks store it as fp16.
SQ_HOST_DEVICE float stored_scale(GroupParams p, GridKind kind) {
  return kind == GridKind::GgufQ8_0 || kind == GridKind::GgufQ4_0 ? fp16_to_fp32(fp32_to_fp16(p.scale)) : p.scale;
}

SQ_HOST_DEVICE float dequantize_value(int32_t q, GroupParams p, GridKind kind) {
  return (float(q) - p.zero) * stored_scale(p, kind);
}

// Backward of one group's fake quantization with straight-through rounding (OmniQuant's
// round_ste), for the free grids: from dL/dy of the n values, dL/dw into gw, and dL/dclip as the
// result. The range (max |w|, or min and max) passes its gradient to the value that sets it.
SQ_HOST_DEVICE float ste_group_backward(const float* x, const float* gy, float* gw, int64_t n, int bits, GridKind kind,
                                        float clip) {
  if (kind == GridKind::Asymmetric) {
    int64_t at_min = 0, at_max = 0;
    for (int64_t i = 1; i < n; ++i) {
      if (x[i] < x[at_min]) at_min = i;
      if (x[i] > x[at_max]) at_max = i;
    }
    const float levels = float((1 << bits) - 1), lo = x[at_min] * clip, hi = x[at_max] * clip;
    const float raw = (hi - lo) / levels, s = fmaxf(raw, 1e-8f), z = rintf(-lo / s);
    float g_s = 0.f, g_lo = 0.f;
    for (int64_t i = 0; i < n; ++i) {
      const float u = x[i] / s, q = rintf(u) + z;
      if (q >= 0.f && q <= levels) {
        gw[i] = gy[i];
        g_s += gy[i] * (rintf(u) - u);
      } else {
        gw[i] = 0.f;
        g_s += gy[i] * ((q < 0.f ? 0.f : levels) - z - lo / s);
        g_lo += gy[i];
      }
    }
    float g_hi = 0.f;
    if (raw > 1e-8f) g_hi = g_s / levels, g_lo -= g_s / levels;
    gw[at_max] += g_hi * clip;
    gw[at_min] += g_lo * clip;
    return g_hi * x[at_max] + g_lo * x[at_min];
  }
  int64_t at = 0;
  for (int64_t i = 1; i < n; ++i)
    if (fabsf(x[i]) > fabsf(x[at])) at = i;
  const float qmax = float((1 << (bits - 1)) - 1), amax = fabsf(x[at]);
  const float s = amax > 0.f ? fmaxf(amax * clip / qmax, 1e-8f) : 1.f;
  float g_s = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    const float u = x[i] / s, q = rintf(u);
    if (fabsf(q) <= qmax) {
      gw[i] = gy[i];
      g_s += gy[i] * (q - u);
    } else {
      gw[i] = 0.f;
      g_s += gy[i] * copysignf(qmax, q);
    }
  }
  if (amax <= 0.f) return 0.f;
  gw[at] += g_s * clip / qmax * (x[at] < 0.f ? -1.f : 1.f);
  return g_s * amax / qmax;
}

}  // namespace sq::kernels
