#pragma once
// Per-element fake-quantization math shared by kernels/fake_quant_cpu.cpp and
// kernels/fake_quant_cuda.cu.
#include "kernels/hostdevice.h"

#include <math.h>

namespace sq::kernels {

// Largest positive integer level of a signed symmetric grid: 127 for 8 bits, 7 for 4 bits.
SQ_HOST_DEVICE float symmetric_qmax(int bits) { return static_cast<float>((1 << (bits - 1)) - 1); }

// Scale of a symmetric grid that maps amax onto qmax. An all-zero row keeps scale 1 so that
// x / scale stays finite; it quantizes to zeros either way.
SQ_HOST_DEVICE float symmetric_scale(float amax, float qmax) { return amax > 0.f ? amax / qmax : 1.f; }

// Round to nearest, ties to even (rintf under the default rounding mode), as torch.round does,
// then clamp to [-qmax, qmax] and map back.
SQ_HOST_DEVICE float fake_quant_symmetric(float x, float scale, float qmax) {
  float q = rintf(x / scale);
  q = fminf(fmaxf(q, -qmax), qmax);
  return q * scale;
}

}  // namespace sq::kernels
