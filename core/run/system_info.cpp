#include "core/run/system_info.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "core/quantized/quant_method.h"
#include "core/version.h"
#include "kernels/fake_quant.h"

namespace sq {

SystemInfo system_info() {
  SystemInfo s;
  s.version = SAFEQUANT_VERSION;
  s.quantizer_revision = kQuantizerRevision;
  s.torch_version = TORCH_VERSION;
  s.threads = at::get_num_threads();
  s.cuda_compiled = kernels::cuda_compiled();
  s.cuda_devices = kernels::cuda_device_count();
  return s;
}

void use_all_cores() {
  const unsigned n = std::thread::hardware_concurrency();
  if (n > 0) at::set_num_threads(static_cast<int>(n));
}

std::string to_json(const SystemInfo& s) {
  return nlohmann::json{{"version", s.version},
                        {"quantizer_revision", s.quantizer_revision},
                        {"torch", s.torch_version},
                        {"threads", s.threads},
                        {"cuda_compiled", s.cuda_compiled},
                        {"cuda_devices", s.cuda_devices}}
      .dump(2);
}

}  // namespace sq
