#pragma once
// Marks per-element math that both the CPU twins and the CUDA kernels compile, so the two
// implementations cannot drift apart.
#if defined(__CUDACC__)
#define SQ_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SQ_HOST_DEVICE inline
#endif
