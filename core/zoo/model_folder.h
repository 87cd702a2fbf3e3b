#pragma once
// A zoo model written as a Hugging Face model folder: float32 safetensors, config.json,
// tokenizer.json, tokenizer_config.json (with its chat template) and generation_config.json, so
// that the demo models load through the same path as real checkpoints. Torch-facing.
#include <string>

#include "core/model/config.h"
#include "core/zoo/trainer.h"

namespace sq {

// What a folder says besides the weights: its tokenizer, chat template and end and padding tokens.
struct ZooFolderText {
  std::string tokenizer_json, chat_template;
  std::string eos_token, pad_token;
  int eos_id = 0, pad_id = 0;
};

void save_zoo_model(const std::string& dir, const ModelConfig& config, const Params& params, const ZooFolderText& text);

}  // namespace sq
