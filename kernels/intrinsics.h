#pragma once
// The processor's vector intrinsics, for the kernels' CPU twins.
//
// GCC 12 reports its own AVX-512 intrinsics' placeholder operands as uninitialized once they are
// inlined (its bug 105593); the intrinsics are right, so the report is silenced for them only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
