#pragma once
// ggml's tensor encodings (ggml-common.h) for the types this project writes: F32, F16, BF16 and
// the 32-value blocks Q8_0 {fp16 d; int8 qs[32]} and Q4_0 {fp16 d; uint8 qs[16]}, where Q4_0's
// byte j holds value j in its low nibble and value j + 16 in its high one. Plain C++.
#include <cstdint>
#include <vector>

#include "core/io/gguf.h"

namespace sq {

// Q8_0 / Q4_0 blocks of n values (n a multiple of 32) from integer codes as llama.cpp computes
// them (Q8_0: -127..127; Q4_0: 0..15) and one scale per 32 values.
std::vector<uint8_t> encode_quant_blocks(GgmlType type, const int32_t* codes, const float* scales, int64_t n);

// F32 / F16 / BF16 (rounding to nearest even) of n floats.
std::vector<uint8_t> encode_floats(GgmlType type, const float* x, int64_t n);

// n values of any type gguf.h names back to floats (Q8_0: d * q; Q4_0: d * (q - 8); the others as
// core/io/ggml_kquants.h decodes them).
void decode_values(GgmlType type, const unsigned char* data, int64_t n, float* out);

}  // namespace sq
