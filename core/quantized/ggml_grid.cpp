#include "core/quantized/ggml_grid.h"

#include "core/error.h"
#include "core/io/ggml_blocks.h"
#include "core/io/ggml_kquants.h"

namespace sq {

torch::Tensor encode_ggml_blocks(const torch::Tensor& w_in, GgmlType type) {
  const torch::Tensor w = w_in.detach().to(torch::kCPU, torch::kFloat32).contiguous();  // host: ggml's encoders run on the CPU
  const int64_t rows = w.size(0), cols = w.size(1), block = ggml_block_size(type);
  if (cols % block != 0)
    throw Error(std::string(ggml_type_name(type)) + " needs rows of a multiple of " + std::to_string(block) + " values; this weight has " +
                std::to_string(cols) + " columns (quantize with gguf-q4_0 or gguf-q8_0, whose blocks hold 32, or export a mix such as "
                "gguf-q4_k_m, which falls back there as llama.cpp does)");
  const int64_t row_bytes = int64_t(ggml_row_bytes(type, cols));
  torch::Tensor blocks = torch::empty({rows, row_bytes}, torch::kUInt8);
  const float* x = w.data_ptr<float>();
  uint8_t* out = blocks.data_ptr<uint8_t>();
  at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) quantize_row_reference(type, x + r * cols, cols, out + r * row_bytes);
  });
  return blocks;
}

QuantizedWeight quantize_ggml_blocks(const torch::Tensor& w, GgmlType type) {
  QuantizedWeight q;
  q.blocks = encode_ggml_blocks(w, type);
  q.dequant = dequantize_ggml_blocks(q.blocks, type, w.size(1)).to(w.device());
  return q;
}

torch::Tensor dequantize_ggml_blocks(const torch::Tensor& blocks_in, GgmlType type, int64_t cols) {
  const torch::Tensor blocks = blocks_in.to(torch::kCPU).contiguous();  // host: decoded on the CPU
  const int64_t rows = blocks.size(0), row_bytes = int64_t(ggml_row_bytes(type, cols));
  if (blocks.dim() != 2 || blocks.size(1) != row_bytes)
    throw Error(std::string(ggml_type_name(type)) + " blocks of " + std::to_string(blocks.size(-1)) + " bytes a row do not hold " +
                std::to_string(cols) + " values");
  torch::Tensor out = torch::empty({rows, cols}, torch::kFloat32);
  const uint8_t* in = blocks.data_ptr<uint8_t>();
  float* y = out.data_ptr<float>();
  at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) decode_values(type, in + r * row_bytes, cols, y + r * cols);
  });
  return out;
}

}  // namespace sq
