#pragma once
// Reading a LLaMA-family GGUF file (the types this project writes: F32, F16, BF16, Q8_0, Q4_0)
// back into the engine: config from the <arch>.* keys, weights decoded to fp32 in Hugging Face's
// names and row order, the tokenizer rebuilt from tokenizer.ggml.*. Torch-facing.
#include <torch/torch.h>

#include <map>
#include <string>

#include "core/model/config.h"

namespace sq {

struct GgufModel {
  ModelConfig config;
  std::map<std::string, torch::Tensor> tensors;
  std::string tokenizer_json;
  std::string chat_template;  // Jinja source, or empty
};

// Throws sq::Error naming the file and the missing key, tensor or unsupported feature.
GgufModel read_gguf_model(const std::string& path);

}  // namespace sq
