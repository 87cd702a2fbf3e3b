#pragma once
// ComputeDevice in LibTorch's terms. Torch-facing: include from the engine's own translation units.
#include <torch/torch.h>

#include "core/run/device.h"

namespace sq {

inline torch::Device torch_device(const ComputeDevice& d) {
  return d.kind == DeviceKind::Cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d.index)) : torch::Device(torch::kCPU);
}

// Options for a tensor that lives on the host whatever the job's device: the input of a loop
// that runs on the CPU (GPTQ's columns, the probe solver's coordinate descent) or a value that
// must not depend on the device (seeded random draws). Every such use says why.
inline torch::TensorOptions host(torch::ScalarType dtype = torch::kFloat32) {
  return torch::TensorOptions().dtype(dtype).device(torch::kCPU);
}

// Options for a new tensor beside `t`: its device, with `dtype`.
inline torch::TensorOptions beside(const torch::Tensor& t, torch::ScalarType dtype = torch::kFloat32) {
  return torch::TensorOptions().dtype(dtype).device(t.device());
}

}  // namespace sq
