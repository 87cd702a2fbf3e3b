// The CUDA side of a build without nvcc: no devices, and every CUDA implementation and buffer
// says so (the entry points already refuse Device::Cuda through require()).
#include "kernels/kernel_impl.h"

namespace sq::kernels {
namespace {

[[noreturn]] void absent() { throw KernelError("this build of SafeQuant has no CUDA kernels (configured without nvcc)"); }

}  // namespace

int cuda_device_count() { return 0; }
bool cuda_compiled() { return false; }

void fake_quant_per_token_symmetric_cuda(const float*, float*, float*, int64_t, int64_t, int) { absent(); }
void fake_quant_weight_cuda(const float*, float*, int64_t, int64_t, const WeightGridSpec&, const float*, int32_t*, float*, float*) {
  absent();
}
void fake_quant_with_params_cuda(const float*, float*, int32_t*, int64_t, const GroupParams*, int, GridKind) { absent(); }
void fake_quant_weight_ste_backward_cuda(const float*, const float*, const float*, float*, float*, int64_t, int64_t,
                                         const WeightGridSpec&) {
  absent();
}

void packed_matmul_cuda(const PackedWeights&, const float*, float*, int64_t) { absent(); }
void packed_matmul_int_cuda(const PackedWeights&, const float*, float*, int64_t, int) { absent(); }
void packed_dequantize_cuda(const PackedWeights&, int64_t, int64_t, float*) { absent(); }
void half_matmul_cuda(HalfKind, const uint16_t*, const float*, float*, int64_t, int64_t, int64_t) { absent(); }
void half_to_float_cuda(HalfKind, const uint16_t*, float*, int64_t) { absent(); }
void hadamard_transform_cuda(float*, int64_t, int64_t, float) { absent(); }

CudaBuffer::CudaBuffer(size_t) { absent(); }
CudaBuffer::~CudaBuffer() = default;
void CudaBuffer::upload(const void*) { absent(); }
void CudaBuffer::download(void*) const { absent(); }

}  // namespace sq::kernels
