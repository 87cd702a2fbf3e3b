#pragma once
// Hugging Face folders written from a model and its run: compressed-tensors (vLLM's int8 W8A8,
// packed int4 W4A16, and a mixed run's units each in its own config group) and a plain bf16 checkpoint with the fake-quantized weights baked in.
// config.json is the model's own with the quantization described (or torch_dtype bfloat16);
// tokenizer and generation files are copied. Torch-facing; for export.cpp.
#include <string>

#include "core/export/weight_source.h"
#include "core/run/progress.h"

namespace sq {

// The scheme a compressed-tensors export writes for "ct-w8a8" / "ct-w4a16".
QuantScheme compressed_tensors_scheme(const std::string& format);
// The scheme a mixed run's unit on `s` is written in by "ct-mixed": `s` when it is symmetric
// integer, else the symmetric one of its bits and group (32 for llama.cpp's grids).
QuantScheme compressed_tensors_scheme_of(const QuantScheme& s);
// True when the run's linears are exactly that scheme's grid.
bool compressed_tensors_exact(const WeightSource& src, const std::string& format);

void write_compressed_tensors_model(WeightSource& src, const std::string& format, const std::string& dir,
                                    const Progress& progress);
void write_bf16_model(WeightSource& src, const std::string& dir, const Progress& progress);

}  // namespace sq
