// A run's integer codes in the packed layout the matmul kernels read (packed_math.h).
#include <cmath>

#include "kernels/packed_matmul.h"

namespace sq::kernels {

bool pack_weights(const int32_t* codes, const float* scales, const float* zeros, int64_t rows, int64_t cols, int64_t group,
                  int bits, GridKind kind, PackedHost& out) {
  out = PackedHost{};
  if (bits < 2 || bits > 8 || rows <= 0 || cols <= 0 || group <= 0 || cols % group != 0 || group % kPackBlock != 0 ||
      kind == GridKind::GgufK)
    return false;
  const int64_t n_groups = rows * (cols / group);
  for (int64_t g = 0; g < n_groups; ++g)
    if (zeros[g] != std::rint(zeros[g]) || !std::isfinite(scales[g])) return false;
  // Codes of a symmetric grid are signed; a nibble holds them shifted by 8 (and the zero point
  // with them). An 8-bit asymmetric code (0..255) is stored shifted by -128 to fit a signed byte.
  const int storage = bits <= 4 ? 4 : 8;
  const int32_t offset = storage == 4 ? (kind == GridKind::Symmetric ? 8 : 0) : (kind == GridKind::Asymmetric && bits == 8 ? -128 : 0);
  const int32_t lo = storage == 4 ? 0 : -128, hi = storage == 4 ? 15 : 127;
  const int64_t row_bytes = cols * storage / 8;
  out.bits = storage;
  out.codes.assign(size_t(rows * row_bytes), 0);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = out.codes.data() + r * row_bytes;
    for (int64_t c = 0; c < cols; ++c) {
      const int32_t v = codes[r * cols + c] + offset;
      if (v < lo || v > hi)
        throw KernelError("packing weights: code " + std::to_string(codes[r * cols + c]) + " at row " + std::to_string(r) +
                          ", column " + std::to_string(c) + " is outside the " + std::to_string(bits) + "-bit grid");
      if (storage == 8) {
        row[c] = uint8_t(int8_t(v));
      } else {
        uint8_t& byte = row[(c / kPackBlock) * 16 + (c % kPackBlock) % 16];
        byte = uint8_t((c % kPackBlock) < 16 ? (byte & 0xF0) | v : (byte & 0x0F) | (v << 4));
      }
    }
  }
  out.scales.assign(scales, scales + n_groups);
  out.zeros.resize(size_t(n_groups));
  for (int64_t g = 0; g < n_groups; ++g) out.zeros[size_t(g)] = zeros[g] + float(offset);
  return true;
}

}  // namespace sq::kernels
