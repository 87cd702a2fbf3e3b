#pragma once
// A LLaMA-family model (and its quantization run) as one GGUF v3 file for llama.cpp, each tensor
// in the type gguf_types.h gives it. Where the run used llama.cpp's own grid of a tensor's type,
// its codes and scales (or K-quant blocks) are written unchanged; otherwise the weights are
// quantized as llama.cpp's reference quantizer does. Norms and biases are F32. Torch-facing;
// for export.cpp.
#include <string>

#include "core/export/weight_source.h"
#include "core/export/gguf_types.h"
#include "core/run/progress.h"

namespace sq {

// True when the linears of `src`'s run are written as the run's own blocks, and nothing else in
// the file is quantized.
bool gguf_blocks_exact(const WeightSource& src, const GgufFileTypeInfo& type);

void write_gguf_model(WeightSource& src, const GgufFileTypeInfo& type, const std::string& name, const std::string& path,
                      const Progress& progress);

}  // namespace sq
