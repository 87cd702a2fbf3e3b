#pragma once
// What this build and machine offer: versions, threads, CUDA. Shown by `safequant info`,
// the GUI's status line and every run's log.
#include <string>
#include <vector>

namespace sq {

struct SystemInfo {
  std::string version;        // SafeQuant
  int quantizer_revision = 0; // what cached quantization runs are checked against
  std::string torch_version;  // LibTorch
  int threads = 1;            // intra-op threads the compute threads use now
  bool cuda_compiled = false; // CUDA kernels built in
  int cuda_devices = 0;       // usable CUDA devices
  std::vector<std::string> devices;  // where a job can compute (device.h), the CPU first
  std::string cuda_unavailable;      // why no CUDA device is among them, or empty
  std::string thread_policy;  // how `threads` is chosen (threads.h)
  std::string cpu;            // the CPU's model name
  std::string kernels;        // ATen's CPU capability and the BLAS's kernel set ("avx2, OpenBLAS SkylakeX")
};

SystemInfo system_info();

std::string to_json(const SystemInfo& info);

}  // namespace sq
