#pragma once
// How the CPU twins of the few-token products walk their work: every row in parallel and, for
// each row, the tokens in tiles of kRowTile and one remainder tile, so that a row's weights are
// decoded once per tile. `tile(r, t0, nt)` computes row r against tokens t0..t0+nt-1, with nt a
// std::integral_constant, so that each tile size compiles to its own code.
#include <cstdint>
#include <type_traits>

namespace sq::kernels {

inline constexpr int kRowTile = 4;

template <typename Tile>
void rows_in_tiles(int64_t rows, int64_t n, Tile tile) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t0 = 0;
    for (; t0 + kRowTile <= n; t0 += kRowTile) tile(r, t0, std::integral_constant<int, kRowTile>{});
    switch (n - t0) {
      case 3: tile(r, t0, std::integral_constant<int, 3>{}); break;
      case 2: tile(r, t0, std::integral_constant<int, 2>{}); break;
      case 1: tile(r, t0, std::integral_constant<int, 1>{}); break;
      default: break;
    }
  }
}

}  // namespace sq::kernels
