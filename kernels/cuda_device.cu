#include <cuda_runtime.h>

#include "kernels/cuda_check.h"
#include "kernels/device.h"

namespace sq::kernels {

// Without a driver cudaGetDeviceCount fails ("driver version is insufficient"): that is 0 devices.
int cuda_device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

bool cuda_compiled() { return true; }

CudaBuffer::CudaBuffer(size_t bytes) : bytes_(bytes) {
  require(Device::Cuda);
  cuda_check(cudaMalloc(&data_, bytes), "cudaMalloc");
}

CudaBuffer::~CudaBuffer() { cudaFree(data_); }

void CudaBuffer::upload(const void* host) { cuda_check(cudaMemcpy(data_, host, bytes_, cudaMemcpyHostToDevice), "cudaMemcpy to the device"); }

void CudaBuffer::download(void* host) const {
  cuda_check(cudaMemcpy(host, data_, bytes_, cudaMemcpyDeviceToHost), "cudaMemcpy from the device");
}

}  // namespace sq::kernels
