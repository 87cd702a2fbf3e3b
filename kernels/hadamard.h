#pragma once
// The fast Walsh–Hadamard transform: x <- scale · x H_n for each row, in place, in n log n
// additions instead of a dense n × n product. H_n is Sylvester's (H_2n = [[H, H], [H, -H]]), the
// matrix a randomized Hadamard rotation is built from (rotation.h).
#include <cstdint>

#include "kernels/device.h"

namespace sq::kernels {

// `x` is row-major [rows, n], n a power of two, in `device`'s memory.
void hadamard_transform(Device device, float* x, int64_t rows, int64_t n, float scale);

}  // namespace sq::kernels
