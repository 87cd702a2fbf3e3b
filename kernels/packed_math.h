#pragma once
// Packed quantized weights as the matmul kernels read them, and the per-element math the CPU
// twins and the CUDA kernels share: where a code sits, what it dequantizes to, and how an
// activation row is quantized to integers for the integer dot products.
#include <math.h>
#include <stdint.h>

#include "kernels/fake_quant_math.h"
#include "kernels/hostdevice.h"

namespace sq::kernels {

// Columns per block: a 4-bit row is stored in blocks of 32 columns (16 bytes), and a group of
// columns sharing a scale is a whole number of blocks.
constexpr int64_t kPackBlock = 32;

// A [rows, cols] weight as integer codes with a scale and a zero point per group of `group`
// columns: w = (code - zero) * scale.
//  - bits 4: two codes a byte, unsigned 0..15; in each block of 32 columns byte j holds column j
//    in its low nibble and column j + 16 in its high one (llama.cpp's Q4_0 order).
//  - bits 8: one code a byte, signed -128..127.
// Zero points are whole numbers (every grid here rounds them), so code - zero is exact.
struct PackedWeights {
  int64_t rows = 0, cols = 0, group = 0;
  int bits = 8;
  const uint8_t* codes = nullptr;  // rows * row_bytes()
  const float* scales = nullptr;   // [rows, cols / group]
  const float* zeros = nullptr;    // [rows, cols / group]
  SQ_HOST_DEVICE int64_t row_bytes() const { return cols * bits / 8; }
  SQ_HOST_DEVICE int64_t groups() const { return cols / group; }
};

// The code of column c in a row's bytes.
SQ_HOST_DEVICE int32_t packed_code(const uint8_t* row, int64_t c, int bits) {
  if (bits == 8) return int32_t(int8_t(row[c]));
  const uint8_t byte = row[(c / kPackBlock) * 16 + (c % kPackBlock) % 16];
  return (c % kPackBlock) < 16 ? int32_t(byte & 0x0F) : int32_t(byte >> 4);
}

// The weight at (r, c), as the fake-quantized model holds it.
SQ_HOST_DEVICE float packed_weight(const PackedWeights& w, int64_t r, int64_t c) {
  const int64_t g = r * w.groups() + c / w.group;
  return (float(packed_code(w.codes + r * w.row_bytes(), c, w.bits)) - w.zeros[g]) * w.scales[g];
}

// An activation row quantized per token, symmetric, as fake_quant_per_token_symmetric does it:
// the same scale and the same integer levels, here kept as integers.
SQ_HOST_DEVICE int8_t activation_code(float x, float scale, float qmax) {
  return int8_t(fminf(fmaxf(rintf(x / scale), -qmax), qmax));
}

}  // namespace sq::kernels
