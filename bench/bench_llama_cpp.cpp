// The engine against llama.cpp on the same weights, in one run: a random ~100M LLaMA (12 layers,
// 768 wide, bf16), round-to-nearest runs on llama.cpp's Q8_0 and Q4_0 grids, and their GGUF
// exports (F16 of the checkpoint, Q8_0 and Q4_0 of the runs, which hold exactly the run's codes).
// Each engine prefills one 128-token prompt and decodes 64 greedy tokens, at the same thread
// count; llama.cpp is node-llama-cpp's prebuilt CPU binary (tests/llama_cpp/bench_gguf.mjs).
//   bench_llama_cpp [--threads N (default 2)] [--keep DIR]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/engine_speed.h"
#include "core/export/export.h"
#include "core/model/model.h"
#include "core/quant/quantizer.h"
#include "core/run/allocator.h"
#include "core/run/blas_kernels.h"
#include "tests/tiny_model.h"

namespace {

namespace fs = std::filesystem;

constexpr int kPrompt = 128, kDecode = 64;

}  // namespace

int main(int argc, char** argv) {
  sq::keep_freed_memory();           // as the executables do
  sq::reexec_with_fitting_blas(argv);  // likewise: the children inherit the choice
  if (argc == 6 && std::string(argv[1]) == "--child") return engine_speed_child(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
  int threads = 2;
  std::string keep;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::max(1, std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--keep")) keep = argv[i + 1];
  }
  // Both engines hold exactly this many threads, whatever else runs.
  setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  const fs::path root = keep.empty() ? fs::temp_directory_path() / ("sq-bench-llama-cpp-" + std::to_string(getpid())) : fs::path(keep);
  const std::string model = (root / "model").string();
  if (!fs::exists(model)) {
    TinySpec m100;
    m100.hidden = 768, m100.intermediate = 2048, m100.layers = 12, m100.heads = 12, m100.kv_heads = 4, m100.vocab = 32000,
    m100.tied = true, m100.bf16 = true;
    writeTinyModel(model, m100);
  }
  const auto cfg = sq::load_config(model + "/config.json");
  std::printf("random LLaMA: %lld layers, hidden %lld, %.1fM parameters (bf16); %d threads each; prompt %d, decode %d tokens\n",
              (long long)cfg.num_layers, (long long)cfg.hidden_size, double(cfg.parameter_count()) / 1e6, threads, kPrompt, kDecode);
  struct Case {
    const char* name;
    const char* scheme;  // the run's, or empty for full precision
    const char* format;
  };
  std::printf("\n%-22s %10s %10s %12s %10s %10s %12s %9s %9s\n", "weights", "engine pp", "engine tg", "", "llama pp", "llama tg", "",
              "pp ratio", "tg ratio");
  for (const Case& c : {Case{"F16 / bf16 checkpoint", "", "gguf-f16"}, Case{"Q8_0", "gguf-q8_0", "gguf-q8_0"},
                        Case{"Q4_0", "gguf-q4_0", "gguf-q4_0"}}) {
    std::string run;
    if (*c.scheme) {
      run = (root / (std::string("run-") + c.scheme)).string();
      if (!fs::exists(run)) {
        sq::QuantizeOptions o;
        o.scheme = sq::parse_scheme(c.scheme);
        sq::quantize_model(model, o, run);
      }
    }
    const fs::path out = root / (std::string("export-") + c.format);
    if (!fs::exists(out)) sq::export_model({model, run, c.format, out.string(), false, {}});
    std::string gguf;
    for (const auto& e : fs::directory_iterator(out))
      if (e.path().extension() == ".gguf") gguf = e.path().string();
    const SpeedFigures ours = engine_speed(argv[0], model, run, kPrompt, kDecode);
    const SpeedFigures theirs = llama_cpp_speed(SQ_SOURCE_DIR, gguf, threads, cfg.vocab_size, kPrompt, kDecode);
    std::printf("%-22s %10.1f %10.1f %12s %10.1f %10.1f %12s %8.2fx %8.2fx\n", c.name, ours.prefill, ours.decode, ours.note.c_str(),
                theirs.prefill, theirs.decode, theirs.note.c_str(), theirs.prefill > 0 ? ours.prefill / theirs.prefill : 0.0,
                theirs.decode > 0 ? ours.decode / theirs.decode : 0.0);
  }
  std::printf("(tokens/s; pp = prefill of one %d-token prompt, tg = greedy decode; ratio = engine / llama.cpp)\n", kPrompt);
  if (keep.empty()) {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  return 0;
}
