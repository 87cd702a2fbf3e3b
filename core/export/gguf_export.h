#pragma once
// A LLaMA-family model (and its quantization run) as one GGUF v3 file for llama.cpp. Linear
// layers are written in `type`; when the run used llama.cpp's own grid of that type, its integer
// codes and scales are packed unchanged, otherwise the weights are quantized with llama.cpp's
// rule. Embeddings and output head keep the checkpoint's precision in the quantized types (the
// run leaves them unquantized), norms and biases are F32. Torch-facing; for export.cpp.
#include <string>

#include "core/export/weight_source.h"
#include "core/io/gguf.h"
#include "core/run/progress.h"

namespace sq {

// True when the linears of `src`'s run are exactly representable as `type` blocks.
bool gguf_blocks_exact(const WeightSource& src, GgmlType type);

void write_gguf_model(WeightSource& src, GgmlType type, const std::string& name, const std::string& path,
                      const Progress& progress);

}  // namespace sq
