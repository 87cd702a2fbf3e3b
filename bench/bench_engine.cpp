// Model engine figures: prefill and decode tokens/s, and the peak RSS of a layer-by-layer
// (onloaded) forward against a resident one, on random checkpoints of a demo-sized model and a
// ~100M-parameter model. Each measurement runs in a fresh child process so peaks don't mix.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "bench/command_output.h"
#include "bench/proc_status.h"
#include "core/model/llama.h"
#include "core/run/allocator.h"
#include "core/model/model.h"
#include "tests/tiny_model.h"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

std::vector<int32_t> random_prompt(int64_t vocab, int64_t len, int seed) {
  std::vector<int32_t> p;
  for (int64_t i = 0; i < len; ++i) p.push_back(int32_t((i * 7919 + seed * 104729) % (vocab - 2)));
  return p;
}

// The child's work: prints one line of figures (the RSS modes: their peak in kB).
int child(const std::string& mode, const std::string& dir) {
  std::ofstream("/proc/self/clear_refs") << "5";  // reset the peak: exec keeps no memory, but be sure
  torch::set_num_threads(2);
  if (mode == "speed") {
    const auto model = sq::Model::load(dir);
    const int64_t V = model->config().vocab_size;
    std::vector<std::vector<int32_t>> prompts;
    for (int s = 0; s < 4; ++s) prompts.push_back(random_prompt(V, 128, s));
    sq::GenerateOptions one;
    one.max_new_tokens = 1;
    one.stop_at_eos = false;
    model->generate(prompts, one);  // warm-up
    auto t0 = clock_type::now();
    model->generate(prompts, one);
    const double prefill = 4 * 128 / seconds_since(t0);
    sq::GenerateOptions decode = one;
    decode.max_new_tokens = 33;
    t0 = clock_type::now();
    model->generate({prompts[0]}, decode);
    const double total = seconds_since(t0);
    const double per_prefill = 128 / prefill;  // one prompt's prefill, from the batched rate
    std::printf("prefill %.0f tok/s (batch 4 x 128)   decode %.1f tok/s (batch 1)\n", prefill,
                32 / std::max(1e-9, total - per_prefill));
    return 0;
  }
  auto weights = std::make_shared<const sq::Checkpoint>(dir);
  const sq::Llama net(sq::load_config(dir + "/config.json"), weights, torch::kCPU);
  std::vector<sq::Llama::Batch> batches;
  for (int b = 0; b < 4; ++b) {
    std::vector<int64_t> t;
    for (int s = 0; s < 4; ++s)
      for (int32_t x : random_prompt(net.config().vocab_size, 128, b * 4 + s)) t.push_back(x);
    batches.push_back({torch::tensor(t).view({4, 128}), {}});
  }
  if (mode != "baseline") net.forward_layerwise(batches, nullptr, {}, mode == "onloaded");
  std::printf("%ld\n", status_kb("VmHWM:"));
  return 0;
}

// Runs this program again as a child in `mode` and returns what it printed.
std::string run_child(const char* self, const std::string& mode, const std::string& dir) {
  return command_output(std::string(self) + " --child " + mode + " '" + dir + "'");
}

}  // namespace

int main(int argc, char** argv) {
  sq::keep_freed_memory();  // as the executables do
  if (argc == 4 && std::string(argv[1]) == "--child") return child(argv[2], argv[3]);
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("sq-bench-engine-" + std::to_string(getpid()));
  struct Case {
    const char* name;
    TinySpec spec;
  };
  TinySpec demo;
  demo.hidden = 256, demo.intermediate = 688, demo.layers = 4, demo.heads = 4, demo.kv_heads = 4, demo.vocab = 2048;
  TinySpec m100;
  m100.hidden = 768, m100.intermediate = 2048, m100.layers = 12, m100.heads = 12, m100.kv_heads = 4,
  m100.vocab = 32000, m100.tied = true, m100.bf16 = true;
  for (const Case& c : {Case{"demo-sized", demo}, Case{"~100M bf16", m100}}) {
    const std::string dir = (root / c.name).string();
    writeTinyModel(dir, c.spec);
    const auto cfg = sq::load_config(dir + "/config.json");
    std::printf("%s: %lld layers, hidden %lld, %.1fM parameters\n", c.name, (long long)cfg.num_layers,
                (long long)cfg.hidden_size, double(cfg.parameter_count()) / 1e6);
    std::printf("  %s", run_child(argv[0], "speed", dir).c_str());
    const long base = std::stol(run_child(argv[0], "baseline", dir));
    const long resident = std::stol(run_child(argv[0], "resident", dir));
    const long onloaded = std::stol(run_child(argv[0], "onloaded", dir));
    std::printf("  peak RSS over load-only baseline %.0f MB, 16 prompts x 128 tokens: resident +%.0f MB, onloaded +%.0f MB\n",
                base / 1024.0, (resident - base) / 1024.0, (onloaded - base) / 1024.0);
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
