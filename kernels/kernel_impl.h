#pragma once
// The implementations behind each kernel's entry point: the CPU twin and the CUDA version, with
// the same arguments, already checked by the entry point (dispatch.cpp). Pointers are in the
// implementation's memory. Only the kernels' own files include this.
#include <cstdint>

#include "kernels/half_matmul.h"
#include "kernels/packed_matmul.h"
#include "kernels/weight_quant.h"

namespace sq::kernels {

void fake_quant_per_token_symmetric_cpu(const float* x, float* y, float* scales, int64_t rows, int64_t cols, int bits);
void fake_quant_per_token_symmetric_cuda(const float* x, float* y, float* scales, int64_t rows, int64_t cols, int bits);

void fake_quant_weight_cpu(const float* w, float* y, int64_t rows, int64_t cols, const WeightGridSpec& spec, const float* clip,
                           int32_t* codes, float* scales, float* zeros);
void fake_quant_weight_cuda(const float* w, float* y, int64_t rows, int64_t cols, const WeightGridSpec& spec, const float* clip,
                            int32_t* codes, float* scales, float* zeros);

void fake_quant_with_params_cpu(const float* x, float* y, int32_t* codes, int64_t n, const GroupParams* params, int bits,
                                GridKind kind);
void fake_quant_with_params_cuda(const float* x, float* y, int32_t* codes, int64_t n, const GroupParams* params, int bits,
                                 GridKind kind);

void fake_quant_weight_ste_backward_cpu(const float* w, const float* grad_y, const float* clip, float* grad_w, float* grad_clip,
                                        int64_t rows, int64_t cols, const WeightGridSpec& spec);
void fake_quant_weight_ste_backward_cuda(const float* w, const float* grad_y, const float* clip, float* grad_w, float* grad_clip,
                                         int64_t rows, int64_t cols, const WeightGridSpec& spec);

void packed_matmul_cpu(const PackedWeights& w, const float* x, float* y, int64_t n, CpuPath path);
void packed_matmul_cuda(const PackedWeights& w, const float* x, float* y, int64_t n);

void packed_matmul_int_cpu(const PackedWeights& w, const float* x, float* y, int64_t n, int act_bits, CpuPath path);
void packed_matmul_int_cuda(const PackedWeights& w, const float* x, float* y, int64_t n, int act_bits);

void packed_dequantize_cpu(const PackedWeights& w, int64_t row0, int64_t n_rows, float* out);
void packed_dequantize_cuda(const PackedWeights& w, int64_t row0, int64_t n_rows, float* out);

void half_matmul_cpu(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n, CpuPath path);
void half_matmul_cuda(HalfKind kind, const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols, int64_t n);
void half_to_float_cpu(HalfKind kind, const uint16_t* h, float* out, int64_t count);
void half_to_float_cuda(HalfKind kind, const uint16_t* h, float* out, int64_t count);

void hadamard_transform_cpu(float* x, int64_t rows, int64_t n, float scale);
void hadamard_transform_cuda(float* x, int64_t rows, int64_t n, float scale);

}  // namespace sq::kernels
