#pragma once
// Matrix products with packed quantized weights (packed_math.h): y [n, rows] = x [n, cols] Wᵀ,
// computed on the codes without a floating-point copy of W. n = 1 is the decode step's GEMV.
#include <cstdint>
#include <vector>

#include "kernels/device.h"
#include "kernels/packed_math.h"
#include "kernels/weight_quant_math.h"

namespace sq::kernels {

// Packs a run's integer codes ([rows, cols], as the weight grid `kind` made them at `bits`) with
// their scales and zero points ([rows, cols / group] each) into the layout above; returns false,
// leaving the outputs empty, when the shape has no packed layout (cols or group not a multiple
// of 32, more than 8 bits). Host memory.
struct PackedHost {
  std::vector<uint8_t> codes;
  std::vector<float> scales, zeros;
  int bits = 8;
};
bool pack_weights(const int32_t* codes, const float* scales, const float* zeros, int64_t rows, int64_t cols, int64_t group,
                  int bits, GridKind kind, PackedHost& out);

// The CPU code: the processor's best (chosen when the library loads: AVX2 + FMA, with AVX-512 VNNI's
// dot products where present, and AVX512-BF16's for bf16 weights), AVX2 + FMA alone, or the portable loops every processor runs. Tests
// and benches hold each against the others; a path the processor lacks runs the next one down.
enum class CpuPath { Best, Avx2, Portable };
// True when this processor runs the AVX2 + FMA code.
bool cpu_vectorized();
// What `path` runs on this processor, for reports.
const char* cpu_path_name(CpuPath path);

// Weight-only (W4A16, W8A16): activations keep their fp32 values (the 4-bit AVX-512 VNNI code holds
// them in 32-bit fixed point per 128 columns, exact above 1/64 of each stretch's largest value).
// Every pointer is in `device`'s memory.
void packed_matmul(Device device, const PackedWeights& w, const float* x, float* y, int64_t n, CpuPath path = CpuPath::Best);

// W8A8 and lower: each row of x is quantized per token, symmetric, to `act_bits` (2..8) exactly as
// fake_quant_per_token_symmetric does, and multiplied with integer dot products.
void packed_matmul_int(Device device, const PackedWeights& w, const float* x, float* y, int64_t n, int act_bits,
                       CpuPath path = CpuPath::Best);

// Rows row0..row0+n_rows-1 of W in fp32 ([n_rows, cols] into out), for products over many tokens,
// where a floating-point GEMM on a slice of W beats decoding the codes once per few tokens.
void packed_dequantize(Device device, const PackedWeights& w, int64_t row0, int64_t n_rows, float* out);

}  // namespace sq::kernels
