#include "core/run/device.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include "core/error.h"
#include "kernels/device.h"

namespace sq {

std::string device_name(const ComputeDevice& d) {
  return d.kind == DeviceKind::Cpu ? "cpu" : "cuda:" + std::to_string(d.index);
}

std::string cuda_unavailable_reason() {
  if (!torch::cuda::is_available())
    return !at::hasCUDA()
               ? "this build's LibTorch has no CUDA (Debian's libtorch is CPU-only); build against a CUDA LibTorch "
                 "with cmake -DCMAKE_PREFIX_PATH=/path/to/libtorch (README, \"CUDA\")"
               : "LibTorch has CUDA but sees no CUDA device on this machine";
  if (!kernels::cuda_compiled())
    return "the quantization kernels were built without the CUDA toolkit (none at /usr/local/cuda when configured); "
           "reconfigure with it present";
  return "";
}

std::vector<ComputeDevice> available_devices() {
  std::vector<ComputeDevice> out = {ComputeDevice{}};
  if (cuda_unavailable_reason().empty())
    for (int i = 0; i < int(torch::cuda::device_count()); ++i) out.push_back({DeviceKind::Cuda, i});
  return out;
}

std::optional<ComputeDevice> device_from_name(const std::string& text) {
  if (text == "cpu") return ComputeDevice{};
  if (text == "cuda") return ComputeDevice{DeviceKind::Cuda, 0};
  const std::string digits = text.rfind("cuda:", 0) == 0 ? text.substr(5) : "";
  if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return ComputeDevice{DeviceKind::Cuda, std::stoi(digits)};
}

ComputeDevice parse_device(const std::string& text) {
  const std::optional<ComputeDevice> d = device_from_name(text);
  if (!d) throw Error("unknown device '" + text + "' (cpu, cuda or cuda:N)");
  require_available(*d);
  return *d;
}

void require_available(const ComputeDevice& d) {
  if (d.kind == DeviceKind::Cpu) return;
  if (const std::string why = cuda_unavailable_reason(); !why.empty()) throw Error("device " + device_name(d) + ": " + why);
  const int count = int(torch::cuda::device_count());
  if (d.index >= count)
    throw Error("device " + device_name(d) + ": this machine has " + std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") +
                " (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
}

}  // namespace sq
