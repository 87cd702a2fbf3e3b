#pragma once
// Where a kernel's data lives, the one error every kernel throws, and CUDA device memory for the
// callers that hold plain host arrays (tests, benches). Each kernel has one entry point taking a
// Device; its CPU twin and its CUDA version sit behind it (kernel_impl.h), as ATen's dispatch
// stubs do.
#include <cstddef>
#include <stdexcept>
#include <string>

namespace sq::kernels {

enum class Device { Cpu, Cuda };

// Bad arguments, no CUDA in this build, no device, or a CUDA failure; the message says which.
class KernelError : public std::runtime_error {
 public:
  explicit KernelError(const std::string& message) : std::runtime_error(message) {}
};

// Number of usable CUDA devices: 0 without CUDA support, a driver or a device.
int cuda_device_count();

// True when the CUDA kernels were compiled into this build.
bool cuda_compiled();

// Throws KernelError unless `device` can run kernels here (CUDA compiled in and a device present).
void require(Device device);

// A buffer in CUDA device memory. Throws KernelError where there is no CUDA.
class CudaBuffer {
 public:
  explicit CudaBuffer(size_t bytes);
  ~CudaBuffer();
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;

  void upload(const void* host);    // bytes() from host memory
  void download(void* host) const;  // bytes() to host memory
  size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace sq::kernels
