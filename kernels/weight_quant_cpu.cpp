#include "kernels/kernel_impl.h"

namespace sq::kernels {

void fake_quant_weight_cpu(const float* w, float* y, int64_t rows, int64_t cols, const WeightGridSpec& spec,
                           const float* clip, int32_t* codes, float* scales, float* zeros) {
  const int64_t group = spec.group > 0 ? spec.group : cols;
  const int64_t groups = cols / group;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t at = r * cols + g * group, gi = r * groups + g;
      const GroupParams p = group_params(w + at, group, spec.bits, spec.kind, clip ? clip[gi] : 1.f);
      for (int64_t i = 0; i < group; ++i) {
        const int32_t q = quantize_value(w[at + i], p, spec.bits, spec.kind);
        y[at + i] = dequantize_value(q, p, spec.kind);
        if (codes) codes[at + i] = q;
      }
      if (scales) scales[gi] = stored_scale(p, spec.kind);
      if (zeros) zeros[gi] = p.zero;
    }
  }
}

void fake_quant_weight_ste_backward_cpu(const float* w, const float* grad_y, const float* clip, float* grad_w, float* grad_clip,
                                        int64_t rows, int64_t cols, const WeightGridSpec& spec) {
  const int64_t group = spec.group > 0 ? spec.group : cols;
  const int64_t groups = cols / group;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t at = r * cols + g * group, gi = r * groups + g;
      grad_clip[gi] = ste_group_backward(w + at, grad_y + at, grad_w + at, group, spec.bits, spec.kind, clip[gi]);
    }
}

void fake_quant_with_params_cpu(const float* x, float* y, int32_t* codes, int64_t n, const GroupParams* params, int bits,
                                GridKind kind) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t q = quantize_value(x[i], params[i], bits, kind);
    y[i] = dequantize_value(q, params[i], kind);
    if (codes) codes[i] = q;
  }
}

}  // namespace sq::kernels
