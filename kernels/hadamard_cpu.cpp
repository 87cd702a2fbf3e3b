// The CPU twin of the Walsh–Hadamard transform: rows in parallel, each stage's butterflies in a
// loop the compiler vectorizes once the half-width reaches a vector.
#include "kernels/hadamard_math.h"
#include "kernels/kernel_impl.h"

namespace sq::kernels {

void hadamard_transform_cpu(float* x, int64_t rows, int64_t n, float scale) {
#pragma omp parallel for schedule(static) if (rows * n > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    for (int64_t h = 1; h < n; h *= 2)
      for (int64_t i = 0; i < n; i += 2 * h)
        for (int64_t j = i; j < i + h; ++j) hadamard_butterfly(row, j, h);
    for (int64_t c = 0; c < n; ++c) row[c] *= scale;
  }
}

}  // namespace sq::kernels
