#include "core/model/model_size.h"


namespace sq {

double quantized_weight_bytes(const QuantScheme& s, int64_t rows, int64_t cols) {
  if (s.w_kind == kernels::GridKind::GgufK) {  // super-blocks of 256 with their own scale layout
    return double(rows) * double(ggml_row_bytes(ggml_grid_type(s), cols));
  }
  const int64_t groups = s.group < 0 ? 1 : s.group == 0 ? rows : rows * ((cols + s.group - 1) / s.group);
  const int params = s.w_kind == kernels::GridKind::Asymmetric ? 2 : 1;  // scale, and zero point
  return double(rows) * double(cols) * s.w_bits / 8.0 + 2.0 * double(params) * double(groups);
}

double quantized_model_bytes(const ModelConfig& c, const QuantScheme& scheme, const std::optional<SchemeMix>& mix) {
  double bytes = 0;
  for (const ParamSpec& spec : parameter_specs(c)) {
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    const QuantScheme* s = weight_scheme(spec.name, scheme, mix);
    if (!s || spec.shape.size() != 2)
      bytes += 2.0 * double(n);
    else
      bytes += quantized_weight_bytes(*s, spec.shape[0], spec.shape[1]);
  }
  return bytes;
}

}  // namespace sq
