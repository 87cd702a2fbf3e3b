// Every stage at a real model's size: writes a random-weight checkpoint in the exact shape of a
// real model (bench/real_shapes.h) and times the command line's stages on it as a user runs them,
// each in its own process, with its wall time and peak RSS; then prefill and decode against
// llama.cpp on the same weights (our GGUF exports), in the same run.
//   bench_real_shapes [--shape NAME] [--dir DIR] [--stages a,b,...] [--threads N]
//                     [--cli PATH] [--gptq-samples N] [--gptq-seq-len N] [--qrealign-samples N] [--qrealign-epochs N]
// Shapes: llama-3.2-1b (default), qwen2.5-0.5b, tinyllama-1.1b, llama-3-8b, llama-guard-3-1b.
// Stages (default all): generate, probe, probe-unpadded, long-prompt, rtn, gptq, q-realign, eval,
// export, speed. The checkpoint and the stages' outputs stay in --dir (default
// /tmp/sq-real-shapes/NAME) for the next run; each stage's log is there too.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/engine_speed.h"
#include "bench/real_shapes.h"
#include "core/model/config.h"
#include "core/run/allocator.h"
#include "core/run/blas_kernels.h"
#include "core/run/reproducible.h"

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

struct Measured {
  bool ok = false;
  double seconds = 0;
  double peak_gb = 0;  // the child's peak RSS
};

// Runs the command line `args` with stdout and stderr into `log`; its wall time and peak RSS.
Measured run_child(const std::vector<std::string>& args, const std::string& log) {
  std::fflush(stdout);
  const auto t0 = clock_type::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  Measured m;
  m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  m.peak_gb = double(usage.ru_maxrss) / (1024.0 * 1024.0);
  m.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return m;
}

// The first `n` prompts of each shipped file, as one JSONL file.
void write_prompts(const std::string& out, const std::vector<std::string>& files, size_t n) {
  std::ofstream o(out);
  for (const std::string& f : files) {
    std::ifstream in(std::string(SQ_SOURCE_DIR) + "/resources/data/" + f);
    size_t k = 0;
    for (std::string line; k < n && std::getline(in, line);)
      if (!line.empty()) o << line << "\n", ++k;
  }
}

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t t : ids) s += (s.empty() ? "" : ",") + std::to_string(t);
  return s;
}

std::string gguf_in(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".gguf") return e.path().string();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  sq::keep_freed_memory();           // as the executables do
  sq::reexec_with_fitting_blas(argv);  // likewise: the children inherit the choice
  if (argc == 6 && std::string(argv[1]) == "--child") return engine_speed_child(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
  std::string shape_name = "llama-3.2-1b", dir, stages_arg, cli = SQ_BINARY_DIR "/app/safequant";
  int threads = 2, gptq_samples = 128, gptq_seq = 512, qr_samples = 32, qr_epochs = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--shape") shape_name = v;
    else if (k == "--dir") dir = v;
    else if (k == "--stages") stages_arg = v;
    else if (k == "--cli") cli = v;  // a copy, so that a rebuild during a long run changes nothing
    else if (k == "--threads") threads = std::max(1, std::stoi(v));
    else if (k == "--gptq-samples") gptq_samples = std::stoi(v);
    else if (k == "--gptq-seq-len") gptq_seq = std::stoi(v);
    else if (k == "--qrealign-samples") qr_samples = std::stoi(v);
    else if (k == "--qrealign-epochs") qr_epochs = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of bench/bench_real_shapes.cpp)\n", k.c_str());
      return 2;
    }
  }
  const auto spec = find_real_shape(shape_name);
  if (!spec) {
    std::fprintf(stderr, "unknown shape '%s'; one of:", shape_name.c_str());
    for (const RealShapeSpec& s : real_shapes()) std::fprintf(stderr, " %s", s.name);
    std::fprintf(stderr, "\n");
    return 2;
  }
  const std::vector<std::string> all = {"generate", "probe", "probe-unpadded", "long-prompt", "rtn", "gptq",
                                        "q-realign", "eval", "export", "speed"};
  std::set<std::string> stages;
  if (stages_arg.empty()) stages.insert(all.begin(), all.end());
  std::stringstream listed(stages_arg);
  for (std::string name; std::getline(listed, name, ',');) {
    if (std::find(all.begin(), all.end(), name) == all.end()) {
      std::fprintf(stderr, "unknown stage '%s'\n", name.c_str());
      return 2;
    }
    stages.insert(name);
  }
  // Both engines hold exactly this many threads, whatever else runs.
  setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  const fs::path root = dir.empty() ? fs::temp_directory_path() / "sq-real-shapes" / spec->name : fs::path(dir);
  const std::string model = (root / "model").string();
  fs::create_directories(root);
  if (!write_real_shape(*spec, SQ_SOURCE_DIR, model)) return 1;
  const sq::ModelConfig c = sq::load_config(model + "/config.json");
  const double model_gb = double(c.parameter_count()) * 2 / 1e9;
  const sq::ComputeSettings machine = sq::compute_settings();
  std::printf("%s: random weights, %lld layers x %lld, MLP %lld, heads %lld/%lld, vocabulary %lld, %s head; %.2f B parameters, "
              "%.2f GB bf16\n%s (ATen %s, BLAS %s); %d threads\n\n",
              spec->name, (long long)c.num_layers, (long long)c.hidden_size, (long long)c.intermediate_size, (long long)c.num_heads,
              (long long)c.num_kv_heads, (long long)c.vocab_size, c.tie_word_embeddings ? "tied" : "untied",
              double(c.parameter_count()) / 1e9, model_gb, machine.cpu.c_str(), machine.aten_capability.c_str(), machine.blas.c_str(),
              threads);

  const std::string probe_data = (root / "probe-200.jsonl").string(), eval_data = (root / "eval-100.jsonl").string();
  write_prompts(probe_data, {"advbench_harmful_behaviors.jsonl", "benign_instructions.jsonl"}, 100);
  write_prompts(eval_data, {"advbench_harmful_behaviors.jsonl", "benign_instructions.jsonl"}, 50);
  std::printf("%-15s %-62s %9s %9s  %s\n", "stage", "what ran", "wall", "peak RSS", "notes");
  auto row = [&](const char* stage, const std::string& what, const Measured& m, const std::string& note = "") {
    std::printf("%-15s %-62s %8.1fs %7.2f GB  %s%s\n", stage, what.c_str(), m.seconds, m.peak_gb, m.ok ? "" : "FAILED (see its log) ",
                note.c_str());
  };
  auto stage = [&](const char* name, const std::string& what, std::vector<std::string> args, const std::string& note = "") {
    args.insert(args.begin(), cli);
    const Measured m = run_child(args, (root / (std::string(name) + ".log")).string());
    row(name, what, m, note);
    return m;
  };
  const std::string out = root.string();
  if (stages.count("generate"))
    stage("generate", "chat prompt, 16 new tokens", {"generate", "--model", model, "--chat", "--prompt", "Write a haiku about the sea.", "--max-new", "16"});
  Measured probe, unpadded;
  if (stages.count("probe"))
    probe = stage("probe", "100 AdvBench + 100 benign prompts, batches of 8", {"probe", "--model", model, "--data", probe_data, "--out", out + "/probe", "--force", "--folds", "0"});
  if (stages.count("probe-unpadded")) {
    unpadded = stage("probe-unpadded", "the same, one prompt a batch: real tokens only",
                     {"probe", "--model", model, "--data", probe_data, "--out", out + "/probe-1", "--force", "--folds", "0", "--batch-size", "1"});
    if (probe.ok && unpadded.ok) std::printf("%-15s batched / one a batch: %.2fx (goal: <= 1.3x)\n", "", probe.seconds / unpadded.seconds);
  }
  if (stages.count("long-prompt")) {
    const int64_t n = std::min<int64_t>(8192, c.max_position_embeddings - 1);
    char note[128];
    std::snprintf(note, sizeof note, "goal: peak <= model %.2f GB + 1.5 GB", model_gb);
    stage("long-prompt", "one prompt of " + std::to_string(n) + " tokens, 1 new token",
          {"generate", "--model", model, "--tokens", ids_text(bench_prompt(c.vocab_size, int(n))), "--max-new", "1"}, note);
  }
  if (stages.count("rtn")) {
    stage("rtn", "RTN W4A16", {"quantize", "--model", model, "--method", "rtn", "--scheme", "w4a16", "--out", out + "/rtn-w4a16", "--force"});
    stage("rtn", "RTN on Q4_0's grid", {"quantize", "--model", model, "--method", "rtn", "--scheme", "gguf-q4_0", "--out", out + "/rtn-q4_0", "--force"});
  }
  if (stages.count("gptq"))
    stage("gptq", "GPTQ W4A16, " + std::to_string(gptq_samples) + " samples x " + std::to_string(gptq_seq) + " tokens",
          {"quantize", "--model", model, "--method", "gptq", "--scheme", "w4a16", "--data", probe_data, "--samples",
           std::to_string(gptq_samples), "--seq-len", std::to_string(gptq_seq), "--out", out + "/gptq-w4a16", "--force"},
          "goal: <= 15 min, peak <= model + 2 GB");
  if (stages.count("gptq") && fs::exists(out + "/gptq-w4a16/run.json")) {
    const auto run = nlohmann::json::parse(std::ifstream(out + "/gptq-w4a16/run.json"));
    std::printf("%-15s the samples held %lld real tokens (prompts are cut at the sequence length, not filled to it)\n", "",
                (long long)run["calibration"].value("tokens", int64_t(0)));
  }
  // Q-realign follows another model's probes (the aligned one's): a second draw of the same shape.
  const std::string aligned = (root / "aligned").string();
  if (stages.count("q-realign") && write_real_shape(*spec, SQ_SOURCE_DIR, aligned, 7))
    stage("q-realign", "Q-realign W8A8, " + std::to_string(qr_samples) + " samples, " + std::to_string(qr_epochs) + " epochs a block",
          {"quantize", "--model", model, "--method", "q-realign", "--scheme", "w8a8", "--aligned", aligned, "--data", probe_data,
           "--samples", std::to_string(qr_samples), "--epochs", std::to_string(qr_epochs), "--constant-epochs", "--out",
           out + "/q-realign-w8a8", "--force"});
  if (stages.count("eval")) {
    const std::string run = fs::exists(out + "/gptq-w4a16/run.json") ? out + "/gptq-w4a16" : out + "/rtn-w4a16";
    stage("eval", "50 + 50 prompts x 32 new tokens, " + fs::path(run).filename().string() + " on packed codes",
          {"eval", "--model", model, "--quant", run, "--data", eval_data, "--max-new", "32", "--no-perplexity", "--out", out + "/eval.json"});
  }
  if (stages.count("export")) {
    stage("export", "GGUF Q4_0 of the Q4_0-grid run", {"export", "--model", model, "--quant", out + "/rtn-q4_0", "--format", "gguf-q4_0", "--out", out + "/gguf-q4_0", "--force"});
    stage("export", "GGUF F16 of the checkpoint", {"export", "--model", model, "--format", "gguf-f16", "--out", out + "/gguf-f16", "--force"});
  }
  if (stages.count("speed")) {
    constexpr int kPrompt = 128, kDecode = 32;
    std::printf("\n%-24s %10s %10s %14s %10s %10s %9s %9s\n", "tokens/s", "engine pp", "engine tg", "", "llama pp", "llama tg", "pp ratio", "tg ratio");
    struct Case {
      const char* name;
      std::string run, gguf_dir;
    };
    for (const Case& k : {Case{"bf16 / GGUF F16", "", out + "/gguf-f16"}, Case{"RTN Q4_0 run / its GGUF", out + "/rtn-q4_0", out + "/gguf-q4_0"}}) {
      if (!fs::exists(k.gguf_dir)) {
        std::printf("%-24s (no export at %s: run the export stage first)\n", k.name, k.gguf_dir.c_str());
        continue;
      }
      const SpeedFigures ours = engine_speed(argv[0], model, k.run, kPrompt, kDecode);
      const SpeedFigures theirs = llama_cpp_speed(SQ_SOURCE_DIR, gguf_in(k.gguf_dir), threads, c.vocab_size, kPrompt, kDecode);
      std::printf("%-24s %10.1f %10.1f %14s %10.1f %10.1f %8.2fx %8.2fx %s\n", k.name, ours.prefill, ours.decode, ours.note.c_str(),
                  theirs.prefill, theirs.decode, theirs.prefill > 0 ? ours.prefill / theirs.prefill : 0.0,
                  theirs.decode > 0 ? ours.decode / theirs.decode : 0.0, theirs.note.c_str());
    }
    std::printf("(pp = prefill of one %d-token prompt, tg = greedy decode of %d tokens; ratio = engine / llama.cpp)\n", kPrompt, kDecode);
  }
  return 0;
}
