#pragma once
// How big a model is as it would be deployed under a quantization scheme. A run folder keeps its
// codes one per byte whatever their bits, so its size on disk does not tell a 4-bit run from an
// 8-bit one; this does. Plain C++.
#include "core/model/config.h"
#include "core/quantized/scheme.h"
#include "core/quantized/scheme_mix.h"

namespace sq {

// Each weight the scheme quantizes at its bits, packed, with a 16-bit scale per group (per row,
// or per tensor) and a 16-bit zero point on asymmetric grids (llama.cpp's Q8_0 and Q4_0 blocks
// come to the same: 34 and 18 bytes per 32 weights; K-quants are counted by their super-blocks);
// every other weight in 16 bits. A mixed run's weights each on their unit's scheme.
double quantized_model_bytes(const ModelConfig& config, const QuantScheme& scheme, const std::optional<SchemeMix>& mix = std::nullopt);
// One [rows, cols] weight under the scheme, counted as above.
double quantized_weight_bytes(const QuantScheme& scheme, int64_t rows, int64_t cols);

}  // namespace sq
