// The engine against llama.cpp on the same weights, in one run: a random ~100M LLaMA (12 layers,
// 768 wide, bf16), round-to-nearest runs on llama.cpp's Q8_0 and Q4_0 grids, and their GGUF
// exports (F16 of the checkpoint, Q8_0 and Q4_0 of the runs, which hold exactly the run's codes).
// Each engine prefills one 128-token prompt and decodes 64 greedy tokens, at the same thread
// count; llama.cpp is node-llama-cpp's prebuilt CPU binary (tests/llama_cpp/bench_gguf.mjs).
//   bench_llama_cpp [--threads N (default 2)] [--keep DIR]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/command_output.h"
#include "core/export/export.h"
#include "core/model/model.h"
#include "core/quant/quantizer.h"
#include "core/run/allocator.h"
#include "tests/tiny_model.h"

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr int kPrompt = 128, kDecode = 64;

std::vector<int32_t> prompt_ids(int64_t vocab) {
  std::vector<int32_t> p;
  for (int64_t i = 0; i < kPrompt; ++i) p.push_back(int32_t((i * 7919 + 104729) % (vocab - 2)));
  return p;
}

double ms_since(clock_type::time_point t0) { return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count(); }

// The engine's figures in a child process (a fresh heap and thread pool per model), as JSON.
int child(const std::string& model_dir, const std::string& run) {
  const auto model = sq::Model::load(model_dir, run);
  const std::vector<int32_t> prompt = prompt_ids(model->config().vocab_size);
  sq::GenerateOptions one;
  one.max_new_tokens = 1;
  one.stop_at_eos = false;
  sq::GenerateOptions all = one;
  all.max_new_tokens = kDecode;
  model->generate({prompt}, one);  // warm-up
  double prefill = 1e300, whole = 1e300;
  for (int rep = 0; rep < 2; ++rep) {
    auto t0 = clock_type::now();
    model->generate({prompt}, one);
    prefill = std::min(prefill, ms_since(t0));
    t0 = clock_type::now();
    model->generate({prompt}, all);
    whole = std::min(whole, ms_since(t0));
  }
  const auto [packed, linears] = model->packed_linears();
  std::printf("%s\n", nlohmann::json{{"prefill_ms", prefill}, {"decode_ms", whole - prefill}, {"packed", packed}, {"linears", linears}}
                          .dump()
                          .c_str());
  return 0;
}

struct Figures {
  double prefill = 0, decode = 0;  // tokens per second
  std::string note;
};

Figures figures(const std::string& json_line) {
  try {
    const auto j = nlohmann::json::parse(json_line.substr(json_line.find('{')));
    Figures f{kPrompt / (j["prefill_ms"].get<double>() / 1e3), (kDecode - 1) / (j["decode_ms"].get<double>() / 1e3), ""};
    if (j.contains("packed")) f.note = std::to_string(j["packed"].get<int>()) + "/" + std::to_string(j["linears"].get<int>()) + " packed";
    return f;
  } catch (const std::exception&) {
    return {0, 0, "failed: " + json_line.substr(0, 200)};
  }
}

}  // namespace

int main(int argc, char** argv) {
  sq::keep_freed_memory();  // as the executables do
  if (argc == 4 && std::string(argv[1]) == "--child") return child(argv[2], argv[3]);
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
  std::string ids;
  for (int32_t t : prompt_ids(cfg.vocab_size)) ids += (ids.empty() ? "" : ",") + std::to_string(t);
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
    const Figures ours = figures(command_output(std::string(argv[0]) + " --child '" + model + "' '" + run + "'"));
    const Figures theirs = figures(command_output("cd '" SQ_SOURCE_DIR "/tests/llama_cpp' && node bench_gguf.mjs '" + gguf + "' " +
                                               std::to_string(threads) + " " + ids + " " + std::to_string(kDecode) + " 2>&1"));
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
