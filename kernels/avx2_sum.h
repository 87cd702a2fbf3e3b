#pragma once
// The horizontal sum of eight floats, for the CPU twins' AVX2 paths (compiled for AVX2 whatever
// the translation unit's own flags).
#include <immintrin.h>

namespace sq::kernels {

__attribute__((target("avx2"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

}  // namespace sq::kernels
