#include "core/run/system_info.h"

#include <torch/version.h>

#include <nlohmann/json.hpp>

#include "core/quantized/quant_method.h"
#include "core/run/device.h"
#include "core/run/reproducible.h"
#include "core/run/threads.h"
#include "core/version.h"
#include "kernels/fake_quant.h"

namespace sq {

SystemInfo system_info() {
  SystemInfo s;
  s.version = SAFEQUANT_VERSION;
  s.quantizer_revision = kQuantizerRevision;
  s.torch_version = TORCH_VERSION;
  s.threads = fitted_threads();
  s.thread_policy = thread_policy();
  const ComputeSettings c = compute_settings();
  s.cpu = c.cpu;
  s.kernels = c.aten_capability + ", " + c.blas;
  s.cuda_compiled = kernels::cuda_compiled();
  s.cuda_devices = kernels::cuda_device_count();
  for (const ComputeDevice& d : available_devices()) s.devices.push_back(device_name(d));
  s.cuda_unavailable = cuda_unavailable_reason();
  return s;
}

std::string to_json(const SystemInfo& s) {
  return nlohmann::json{{"version", s.version},
                        {"quantizer_revision", s.quantizer_revision},
                        {"torch", s.torch_version},
                        {"threads", s.threads},
                        {"cuda_compiled", s.cuda_compiled},
                        {"cuda_devices", s.cuda_devices},
                        {"devices", s.devices},
                        {"cuda_unavailable", s.cuda_unavailable},
                        {"thread_policy", s.thread_policy},
                        {"cpu", s.cpu},
                        {"kernels", s.kernels}}
      .dump(2);
}

}  // namespace sq
