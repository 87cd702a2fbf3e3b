#include "core/quantized/quant_method.h"

#include "core/error.h"

namespace sq {

const std::vector<QuantMethodInfo>& quant_methods() {
  static const std::vector<QuantMethodInfo> table = {
      {QuantMethod::Rtn, "rtn", "RTN", "round to nearest, no calibration", false, false, false, false, false, 0.05, false},
      {QuantMethod::Gptq, "gptq", "GPTQ", "error-compensating rounding on calibration Hessians", true, false, true, false, false, 0.05,
       false},
      {QuantMethod::Lwc, "lwc", "LWC+LET", "learned clipping and smoothing, block by block (OmniQuant)", true, true, false, false,
       false, 0.05, false},
      {QuantMethod::QRealign, "q-realign", "Q-realign",
       "LWC+LET whose malicious samples are pushed to the aligned model's probe side", true, true, false, true, false, 0.05, false},
      {QuantMethod::Aaq, "aaq", "AAQ",
       "smoothing trained end to end on logits: near full precision, away from the unaligned base; then GPTQ", true, false, true,
       false, true, 0.002, true},
  };
  return table;
}

const QuantMethodInfo& info(QuantMethod method) { return quant_methods()[size_t(method)]; }

std::string quant_method_names(const char* last_separator) {
  std::string out;
  const auto& all = quant_methods();
  for (size_t i = 0; i < all.size(); ++i) out += (i == 0 ? "" : i + 1 == all.size() ? last_separator : ", ") + std::string(all[i].name);
  return out;
}

QuantMethod parse_quant_method(const std::string& name) {
  for (const QuantMethodInfo& m : quant_methods())
    if (name == m.name) return m.method;
  throw Error("unknown quantization method '" + name + "' (" + quant_method_names() + ")");
}

}  // namespace sq
