// Peak memory of quantization as models get deeper: GPTQ W4A16 on random 8- and 32-layer
// checkpoints of the same width, each in a fresh child process (peak RSS from VmHWM). With one
// decoder layer resident at a time the two peaks should be close, while the checkpoints differ 4x.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "bench/proc_status.h"
#include "core/data/prompt_set.h"
#include "core/quant/quantizer.h"
#include "core/run/resources.h"
#include "tests/tiny_model.h"

namespace {

int child(const std::string& dir) {
  torch::set_num_threads(2);
  sq::QuantizeOptions o;
  o.method = sq::QuantMethod::Gptq;
  o.scheme = sq::parse_scheme("w4a16");
  o.prompts = sq::load_prompt_files({sq::data_file("advbench_harmful_behaviors.jsonl"), sq::data_file("benign_instructions.jsonl")});
  o.samples = 64;
  o.seq_len = 64;
  const auto t0 = std::chrono::steady_clock::now();
  sq::quantize_model(dir, o, dir + "-run");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%ld %.1f\n", status_kb("VmHWM:"), s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--child") return child(argv[2]);
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("sq-bench-quant-" + std::to_string(getpid()));
  for (int64_t layers : {8, 32}) {
    TinySpec spec;
    spec.hidden = 512, spec.intermediate = 1408, spec.heads = 8, spec.kv_heads = 8, spec.vocab = 4096, spec.bf16 = true;
    spec.layers = layers;
    const std::string dir = (root / ("layers-" + std::to_string(layers))).string();
    writeTinyModel(dir, spec);
    const auto cfg = sq::load_config(dir + "/config.json");
    std::fflush(stdout);
    FILE* p = popen((std::string(argv[0]) + " --child '" + dir + "'").c_str(), "r");
    long kb = -1;
    double seconds = 0;
    if (p && std::fscanf(p, "%ld %lf", &kb, &seconds) != 2) kb = -1;
    if (p) pclose(p);
    std::printf("%2lld layers, hidden %lld, %.0fM parameters, checkpoint %.0f MB (bf16): GPTQ w4a16, 64 x 64 tokens: "
                "peak RSS %.0f MB, %.1f s\n",
                (long long)layers, (long long)cfg.hidden_size, double(cfg.parameter_count()) / 1e6,
                double(fs::file_size(dir + "/model.safetensors")) / 1e6, kb / 1024.0, seconds);
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
