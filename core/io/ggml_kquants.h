#pragma once
// llama.cpp's K-quants (super-blocks of 256 values: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and its 5-bit
// 32-value blocks (Q5_0, Q5_1, the types llama.cpp falls back to when a row is not a multiple
// of 256), encoded as ggml's reference quantizers encode them (quantize_row_*_ref in
// ggml-quants.c, no importance matrix) and decoded as its dequantize_row_* decode them, bit for
// bit. Block layouts (ggml-common.h), in bytes:
//   Q2_K  84: scales[16] (low nibble scale, high nibble min), qs[64] (2-bit), fp16 d, fp16 dmin
//   Q3_K 110: hmask[32] (third bit), qs[64] (low 2 bits), scales[12] (6-bit, offset 32), fp16 d
//   Q4_K 144: fp16 d, fp16 dmin, scales[12] (eight 6-bit scales and mins), qs[128]
//   Q5_K 176: fp16 d, fp16 dmin, scales[12], qh[32] (fifth bit), qs[128]
//   Q6_K 210: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], fp16 d
//   Q5_0  22: fp16 d, qh[4], qs[16];   Q5_1 24: fp16 d, fp16 m, qh[4], qs[16]
// Plain C++.
#include <cstdint>

#include "core/io/gguf.h"

namespace sq {

// Is `t` one of the types above?
bool is_kquant_family(GgmlType t);

// n values (a multiple of the type's block size) into out (ggml_row_bytes(t, n) bytes).
void quantize_row_reference(GgmlType t, const float* x, int64_t n, uint8_t* out);

// n values of type t back to floats.
void dequantize_row_reference(GgmlType t, const uint8_t* in, int64_t n, float* out);

}  // namespace sq
