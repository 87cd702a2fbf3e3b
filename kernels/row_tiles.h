#pragma once
// How the CPU twins of the few-token products walk their work: the rows in blocks, in parallel,
// and each block against the tokens in tiles of MaxTile and one remainder tile, so that a row's
// weights are decoded once per tile and a tile's activations stay in the first-level cache while
// the block's rows pass. `tile(r, t0, nt)` computes row r against tokens t0..t0+nt-1, with nt a
// std::integral_constant, so that each tile size compiles to its own code.
#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace sq::kernels {

inline constexpr int kRowTile = 4;
inline constexpr int64_t kRowBlock = 16;

// tile(r, t0, nt) with nt = count, for 0 < count < Max.
template <int Max, typename Tile>
void remainder_tile(int count, int64_t r, int64_t t0, Tile& tile) {
  if constexpr (Max > 1) {
    if (count == Max - 1)
      tile(r, t0, std::integral_constant<int, Max - 1>{});
    else
      remainder_tile<Max - 1>(count, r, t0, tile);
  }
}

template <int MaxTile = kRowTile, typename Tile>
void rows_in_tiles(int64_t rows, int64_t n, Tile tile) {
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r0 = b * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
    int64_t t0 = 0;
    for (; t0 + MaxTile <= n; t0 += MaxTile)
      for (int64_t r = r0; r < r1; ++r) tile(r, t0, std::integral_constant<int, MaxTile>{});
    if (t0 < n)
      for (int64_t r = r0; r < r1; ++r) remainder_tile<MaxTile>(int(n - t0), r, t0, tile);
  }
}

}  // namespace sq::kernels
