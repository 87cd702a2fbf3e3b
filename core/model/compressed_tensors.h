#pragma once
// The compressed-tensors checkpoint format (Hugging Face config.json "quantization_config" with
// quant_method "compressed-tensors"), as vLLM serves it: "int-quantized" int8 weights with a
// per-channel weight_scale and "pack-quantized" low-bit weights packed eight 4-bit values to an
// int32 (weight_packed, weight_scale per group, weight_shape). Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>

#include "core/model/compressed_tensors_config.h"
#include "core/model/config.h"
#include "core/io/safetensors.h"

namespace sq {

// Signed codes [rows, cols] (within ±2^(bits-1)) packed along columns into int32 words, value i
// of a word in bits [bits*i, bits*(i+1)) after adding 2^(bits-1), as compressed-tensors packs
// (the last word of a row padded with zero bits).
torch::Tensor pack_int32(const torch::Tensor& codes, int bits);
torch::Tensor unpack_int32(const torch::Tensor& packed, int bits, int64_t cols);

struct CompressedTensors {
  std::map<std::string, torch::Tensor> dense;  // every quantized linear's weight, fp32, by name
  int activation_bits = 16;                    // dynamic per-token activation quantization, or 16
  std::string description;                     // "int-quantized w8 channel, a8 token"
};

// Decodes the quantized linears of a compressed-tensors folder whose config.json reads as
// `config`. Throws sq::Error naming the file and what is not supported (asymmetric packed weights,
// several config groups, float types…) or does not fit (a weight of another shape than the config's).
CompressedTensors read_compressed_tensors(const std::string& model_dir, const Checkpoint& checkpoint, const ModelConfig& config);

}  // namespace sq
