#pragma once
// A Hugging Face tokenizer.json in GGUF's tokenizer.ggml.* metadata, and back. Byte-level BPE
// tokenizers become llama.cpp's "gpt2" model with the pre-tokenizer name llama.cpp recognises
// for their split regex (gpt-2, llama-bpe, qwen2); ids, merges and special tokens carry over
// unchanged, so both runtimes tokenize alike. Plain C++.
#include <string>

#include "core/io/gguf.h"
#include "core/model/config.h"

namespace sq {

// tokenizer.ggml.* and tokenizer.chat_template entries for a model folder (tokenizer.json,
// tokenizer_config.json). Throws sq::Error naming tokenizer.json when the tokenizer cannot be
// described in GGUF.
GgufMetadata gguf_vocab_metadata(const std::string& model_dir, const ModelConfig& config);

// A tokenizer.json (as text) equivalent to a GGUF file's tokenizer.ggml.* metadata.
std::string tokenizer_json_from_gguf(const GgufFile& gguf);

}  // namespace sq
