#pragma once
// The sum of every thread's value over a block of kBlockThreads threads, in thread 0. CUDA
// sources only.
namespace sq::kernels {

constexpr int kBlockThreads = 128;

__device__ inline float block_sum(float v) {
  __shared__ float warp_sums[kBlockThreads / 32];
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  float s = 0.f;
  if (threadIdx.x == 0)
    for (int i = 0; i < kBlockThreads / 32; ++i) s += warp_sums[i];
  __syncthreads();
  return s;
}

}  // namespace sq::kernels
