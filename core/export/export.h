#pragma once
// Exporting a model, or a quantization run applied to it, in a format a runtime loads:
// GGUF (llama.cpp), compressed-tensors safetensors (vLLM) and a plain bf16 checkpoint. Plain
// C++, for the CLI and the GUI alike.
//
// The output is a folder. When it does not exist yet, it is assembled under a temporary name
// beside it and renamed into place, so it appears complete or not at all; when it exists, each
// file is written under a temporary name in it and renamed over the old one, manifest.json
// last. manifest.json lists every file with its size and SHA-256 and the model and run.
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/manifest.h"
#include "core/run/progress.h"

namespace sq {

// Every export format: the GGUF file types (gguf_types.h), ct-w8a8, ct-w4a16, ct-mixed, hf-bf16.
const std::vector<std::string>& export_formats();

// What exporting a model (and optional run) to `format` means: whether it is allowed, whether
// the file holds exactly the weights that were evaluated, and what the user should know.
struct ExportCheck {
  std::string format;
  bool allowed = true;
  bool exact = false;  // the exported weights are bit for bit those the run evaluated
  std::string note;    // why not allowed, what is re-quantized, what is lost
};
// `quant_run` may be empty. Throws sq::Error for an unreadable model or run, or an unknown format.
ExportCheck check_export(const std::string& model_dir, const std::string& quant_run, const std::string& format);
std::vector<ExportCheck> check_exports(const std::string& model_dir, const std::string& quant_run);

struct ExportOptions {
  std::string model_dir, quant_run, format, out;
  bool replace = false;  // an existing export at `out` is replaced (and only an export)
  Progress progress;
};

struct ExportResult {
  std::string out;       // the output folder
  std::string main_file; // the file a runtime opens (the .gguf), or the folder itself
  std::string manifest;  // path of manifest.json
  ExportCheck check;
  std::vector<ManifestFile> files;  // as manifest.json lists them
};

// Throws sq::Error (refused format, bad input, I/O failure with its cause) or sq::Cancelled;
// in both cases nothing at `out` was changed.
ExportResult export_model(const ExportOptions& options);

}  // namespace sq
