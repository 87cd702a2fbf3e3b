#pragma once
// The butterfly of the fast Walsh–Hadamard transform, shared by the CPU twin and the CUDA kernel.
#include <stdint.h>

#include "kernels/hostdevice.h"

namespace sq::kernels {

SQ_HOST_DEVICE void hadamard_butterfly(float* x, int64_t i, int64_t h) {
  const float a = x[i], b = x[i + h];
  x[i] = a + b;
  x[i + h] = a - b;
}

// The pair index p of a stage with half-width h as the first element of its butterfly.
SQ_HOST_DEVICE int64_t hadamard_pair(int64_t p, int64_t h) { return (p / h) * 2 * h + p % h; }

}  // namespace sq::kernels
