// The CUDA entry points of a build without nvcc: they say so instead of computing.
#include "kernels/fake_quant.h"
#include "kernels/weight_quant.h"

namespace sq::kernels {

bool fake_quant_per_token_symmetric_cuda(const float*, float*, float*, int64_t, int64_t, int,
                                         std::string* error) {
  if (error) *error = "this build of SafeQuant has no CUDA kernels (configured without nvcc)";
  return false;
}

bool fake_quant_weight_cuda(const float*, float*, int64_t, int64_t, const WeightGridSpec&, std::string* error) {
  if (error) *error = "this build of SafeQuant has no CUDA kernels (configured without nvcc)";
  return false;
}

bool fake_quant_weight_ste_backward_cuda(const float*, const float*, const float*, float*, float*, int64_t, int64_t,
                                         const WeightGridSpec&, std::string* error) {
  if (error) *error = "this build of SafeQuant has no CUDA kernels (configured without nvcc)";
  return false;
}

int cuda_device_count() { return 0; }

bool cuda_compiled() { return false; }

}  // namespace sq::kernels
