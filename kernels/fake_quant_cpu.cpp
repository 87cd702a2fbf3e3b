#include <cmath>

#include "kernels/fake_quant_math.h"
#include "kernels/kernel_impl.h"

namespace sq::kernels {

void fake_quant_per_token_symmetric_cpu(const float* x, float* y, float* scales, int64_t rows,
                                        int64_t cols, int bits) {
  const float qmax = symmetric_qmax(bits);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float amax = 0.f;
    for (int64_t c = 0; c < cols; ++c) amax = std::fmax(amax, std::fabs(xr[c]));
    const float scale = symmetric_scale(amax, qmax);
    for (int64_t c = 0; c < cols; ++c) yr[c] = fake_quant_symmetric(xr[c], scale, qmax);
    if (scales) scales[r] = scale;
  }
}

}  // namespace sq::kernels
