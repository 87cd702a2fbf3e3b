#pragma once
// How a LLaMA-family checkpoint is laid out in GGUF, as llama.cpp reads it: the architecture
// name, tensor names ("model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"), and the
// row order of the query and key projections. Hugging Face stores each head's rotary pairs as
// two halves (rotate-half); llama.cpp's "llama" architecture rotates interleaved pairs, so those
// rows are permuted on export and back on import. Qwen2 ("qwen2", NeoX-style rope) keeps HF's
// order. Torch-facing.
#include <torch/torch.h>

#include <string>

#include "core/model/config.h"

namespace sq {

std::string gguf_architecture(const ModelConfig& c);  // "llama" or "qwen2"

// The GGUF name of a Hugging Face tensor name; throws sq::Error for a name it does not know.
std::string gguf_tensor_name(const std::string& hf_name);

// Rows of `t` (dim 0; any trailing dims) in llama.cpp's order for `hf_name`, or, with
// `inverse`, back to Hugging Face's. Identity for tensors and architectures that need none.
torch::Tensor gguf_row_order(const torch::Tensor& t, const std::string& hf_name, const ModelConfig& c, bool inverse);

}  // namespace sq
