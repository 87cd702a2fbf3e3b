#pragma once
// Weight fake quantization of a row-major [rows, cols] matrix in groups of `group` columns
// (group == cols: per output channel; rows * cols with rows == 1: per tensor).
#include <cstdint>

#include "kernels/device.h"
#include "kernels/weight_quant_math.h"

namespace sq::kernels {

struct WeightGridSpec {
  int bits = 8;
  GridKind kind = GridKind::Asymmetric;
  int64_t group = 0;  // columns per group; 0 = the whole row
};

// y = dequantize(quantize(w)). `clip` (nullable) holds one factor per group, row-major
// [rows, cols / group]; `codes`, `scales`, `zeros` (nullable) receive the integer codes and the
// per-group scale (as stored) and zero point. Every pointer is in `device`'s memory.
void fake_quant_weight(Device device, const float* w, float* y, int64_t rows, int64_t cols, const WeightGridSpec& spec,
                       const float* clip, int32_t* codes, float* scales, float* zeros);

// Quantizes n values, value i with params[i] (GPTQ's column-at-a-time step, where each row's
// group parameters are fixed before the column is reached).
void fake_quant_with_params(Device device, const float* x, float* y, int32_t* codes, int64_t n, const GroupParams* params,
                            int bits, GridKind kind);

// The straight-through backward of fake_quant_weight with clip factors (free grids only):
// grad_w [rows, cols] and grad_clip [rows, cols / group] from grad_y.
void fake_quant_weight_ste_backward(Device device, const float* w, const float* grad_y, const float* clip, float* grad_w,
                                    float* grad_clip, int64_t rows, int64_t cols, const WeightGridSpec& spec);

}  // namespace sq::kernels
