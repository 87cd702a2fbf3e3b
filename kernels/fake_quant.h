#pragma once
// Fake quantization (quantize then dequantize, in fp32) of row-major [rows, cols] data.
// Every kernel has a CPU twin; the CUDA entry points exist in every build and report
// unavailability when the project was built without CUDA or no device is present.
#include <cstdint>
#include <string>

namespace sq::kernels {

// Per-token (per-row) symmetric fake quantization to `bits` (2..16): each row is scaled by
// max|x| / (2^(bits-1) - 1). `scales` (may be null) receives one scale per row.
void fake_quant_per_token_symmetric_cpu(const float* x, float* y, float* scales, int64_t rows,
                                        int64_t cols, int bits);

// The CUDA version of the same, on host memory (copies in and out). Returns false and sets
// `error` when CUDA is not built in or no device can run it.
bool fake_quant_per_token_symmetric_cuda(const float* x, float* y, float* scales, int64_t rows,
                                         int64_t cols, int bits, std::string* error);

// Number of usable CUDA devices: 0 without CUDA support, a driver or a device.
int cuda_device_count();

// True when the CUDA kernels were compiled into this build.
bool cuda_compiled();

}  // namespace sq::kernels
