#pragma once
// IEEE half precision conversions, rounding to nearest even, as ggml stores block scales.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/hostdevice.h"

namespace sq::kernels {

SQ_HOST_DEVICE uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

SQ_HOST_DEVICE float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

SQ_HOST_DEVICE uint16_t fp32_to_fp16(float f) {
  // The magic-number method: scale into half's range so that float addition performs the
  // rounding (to nearest even), then read the bits back.
  const float scale_to_inf = bits_float(0x77800000u);   // 2^112
  const float scale_to_zero = bits_float(0x08800000u);  // 2^-110
  float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
  const uint32_t w = float_bits(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = bits_float((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = float_bits(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

SQ_HOST_DEVICE float fp16_to_fp32(uint16_t h) {
  const uint32_t w = uint32_t(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const uint32_t exp_offset = 0xE0u << 23;
  const float exp_scale = bits_float(0x7800000u);  // 2^-112
  const float normalized = bits_float((two_w >> 4) + exp_offset) * exp_scale;
  const uint32_t magic_mask = 126u << 23;
  const float magic_bias = 0.5f;
  const float denormalized = bits_float((two_w >> 17) | magic_mask) - magic_bias;
  const uint32_t denormalized_cutoff = 1u << 27;
  const uint32_t result = sign | (two_w < denormalized_cutoff ? float_bits(denormalized) : float_bits(normalized));
  return bits_float(result);
}

// bfloat16 is the upper half of a float: widening is exact.
SQ_HOST_DEVICE float bf16_to_fp32(uint16_t h) { return bits_float(uint32_t(h) << 16); }

enum class HalfKind : int { F16 = 0, BF16 = 1 };

SQ_HOST_DEVICE float half_to_fp32(uint16_t h, HalfKind kind) { return kind == HalfKind::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h); }

}  // namespace sq::kernels
