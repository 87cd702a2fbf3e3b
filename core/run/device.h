#pragma once
// The device a job computes on: the model's weights, its activations and every tensor the job
// makes follow it. Plain C++ (no torch types), so that front ends name devices without compiling
// torch; core/run/torch_device.h maps it to LibTorch's.
#include <optional>
#include <string>
#include <vector>

namespace sq {

enum class DeviceKind { Cpu, Cuda };

struct ComputeDevice {
  DeviceKind kind = DeviceKind::Cpu;
  int index = 0;  // of the CUDA device
  bool operator==(const ComputeDevice& o) const { return kind == o.kind && (kind == DeviceKind::Cpu || index == o.index); }
};

// "cpu", "cuda:0", …
std::string device_name(const ComputeDevice& d);

// Reads "cpu", "cuda" (device 0) or "cuda:N"; nothing for any other text.
std::optional<ComputeDevice> device_from_name(const std::string& text);

// Checks that this build and machine can compute on `d`: a CUDA device needs a LibTorch built
// with CUDA, kernels compiled with the CUDA toolkit and the device itself. Throws sq::Error
// saying which of them is missing.
void require_available(const ComputeDevice& d);

// device_from_name and require_available; an unknown name is an sq::Error too.
ComputeDevice parse_device(const std::string& text);

// The devices this build can compute on here, the CPU first.
std::vector<ComputeDevice> available_devices();

// Why no CUDA device is available, or empty when one is ("this build's LibTorch has no CUDA", …).
std::string cuda_unavailable_reason();

}  // namespace sq
