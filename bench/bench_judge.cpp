// How fast a safety judge scores replies: the engine's judge (Llama Guard 3 format) on a
// random-weight checkpoint in Llama-Guard-3-1B's exact shape, with its shared prompt prefix
// computed once and computed for every reply, against llama.cpp scoring the same token ids from
// our GGUF F16 export of the same weights (node-llama-cpp's prebuilt CPU binary), both ways too.
//   bench_judge [--items N] [--batch N] [--threads N] [--dir DIR] [--cli PATH]
// Requests are AdvBench's, replies the shipped benign instructions' text (neither is printed).
// The checkpoint and its export stay in --dir (default /tmp/sq-real-shapes/llama-guard-3-1b).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/command_output.h"
#include "bench/real_shapes.h"
#include "core/data/prompt_set.h"
#include "core/eval/judge.h"
#include "core/run/allocator.h"
#include "core/run/threads.h"

namespace fs = std::filesystem;

namespace {

std::string gguf_in(const fs::path& dir) {
  if (fs::exists(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".gguf") return e.path().string();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  int items_n = 64, batch = 8, threads = 2;
  std::string dir, cli = std::string(SQ_BINARY_DIR) + "/app/safequant";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--items") items_n = std::max(1, std::stoi(v));
    else if (k == "--batch") batch = std::max(1, std::stoi(v));
    else if (k == "--threads") threads = std::max(1, std::stoi(v));
    else if (k == "--dir") dir = v;
    else if (k == "--cli") cli = v;
    else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of bench/bench_judge.cpp)\n", k.c_str());
      return 2;
    }
  }
  setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  sq::keep_freed_memory();  // as the executables do
  const auto spec = find_real_shape("llama-guard-3-1b");
  const fs::path root = dir.empty() ? fs::temp_directory_path() / "sq-real-shapes" / spec->name : fs::path(dir);
  const std::string model = (root / "model").string();
  fs::create_directories(root);
  if (!write_real_shape(*spec, SQ_SOURCE_DIR, model)) return 1;

  const auto requests = sq::load_prompts(std::string(SQ_SOURCE_DIR) + "/resources/data/advbench_harmful_behaviors.jsonl");
  const auto replies = sq::load_prompts(std::string(SQ_SOURCE_DIR) + "/resources/data/benign_instructions.jsonl");
  std::vector<sq::JudgeItem> items;
  for (int i = 0; i < items_n; ++i)
    items.push_back({requests[size_t(i) % requests.size()].text, replies[size_t(i) % replies.size()].text});

  using clock_type = std::chrono::steady_clock;
  auto seconds_since = [](clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); };
  nlohmann::json prompts = nlohmann::json::array();
  double reused_s = 0, whole_s = 0, max_dp = 0;
  int prefix = 0;
  size_t tokens = 0;
  {
    sq::start_thread_fitting();  // fixed by OMP_NUM_THREADS above
    const sq::Judge judge(model, sq::JudgeFormat::LlamaGuard3);
    for (const sq::JudgeItem& it : items) {
      prompts.push_back(judge.encode(it));
      tokens += prompts.back().size();
    }
    sq::JudgeRunOptions o;
    o.batch_size = batch;
    judge.judge({items[0], items[1]}, o);  // warm-up
    auto t0 = clock_type::now();
    const auto a = judge.judge(items, o);
    reused_s = seconds_since(t0);
    prefix = judge.last_prefix_tokens();
    o.reuse_prefix = false;
    t0 = clock_type::now();
    const auto b = judge.judge(items, o);
    whole_s = seconds_since(t0);
    for (size_t i = 0; i < items.size(); ++i) max_dp = std::max(max_dp, std::fabs(a[i].p - b[i].p));
  }
  std::printf("llama-guard-3-1b shape: random weights, %d replies judged (%zu prompt tokens, %.0f a prompt; %d shared), "
              "batches of %d, %d threads\n",
              items_n, tokens, double(tokens) / items_n, prefix, batch, threads);
  std::printf("%-44s %10s %10s\n", "", "replies/s", "seconds");
  std::printf("%-44s %10.2f %10.1f\n", "engine, shared prefix computed once", items_n / reused_s, reused_s);
  std::printf("%-44s %10.2f %10.1f\n", "engine, every prompt whole", items_n / whole_s, whole_s);
  std::printf("(prefix reuse %.2fx; largest difference in P between the two: %.2g)\n", whole_s / reused_s, max_dp);

  const fs::path export_dir = root / "gguf-f16";
  if (gguf_in(export_dir).empty())
    command_output("'" + cli + "' export --model '" + model + "' --format gguf-f16 --out '" + export_dir.string() + "' --force --quiet 2>&1");
  const std::string gguf = gguf_in(export_dir);
  if (gguf.empty()) {
    std::printf("llama.cpp: no GGUF export in %s (the export failed)\n", export_dir.c_str());
    return 0;
  }
  const fs::path ids = root / "judge-prompts.json";
  std::ofstream(ids) << nlohmann::json{{"prefix", prefix}, {"prompts", prompts}}.dump();
  const std::string line = command_output("cd '" + std::string(SQ_SOURCE_DIR) + "/tests/llama_cpp' && node judge_gguf.mjs '" + gguf +
                                          "' " + std::to_string(threads) + " '" + ids.string() + "' 2>&1");
  try {
    const auto j = nlohmann::json::parse(line.substr(line.find('{')));
    const double theirs_prefix = j["prefix_ms"].get<double>() / 1e3, theirs_whole = j["whole_ms"].get<double>() / 1e3;
    std::printf("%-44s %10.2f %10.1f\n", "llama.cpp F16, shared prefix kept", items_n / theirs_prefix, theirs_prefix);
    std::printf("%-44s %10.2f %10.1f\n", "llama.cpp F16, every prompt whole", items_n / theirs_whole, theirs_whole);
    std::printf("(engine / llama.cpp: %.2fx with the prefix reused by both, %.2fx whole)\n", theirs_prefix / reused_s,
                theirs_whole / whole_s);
  } catch (const std::exception&) {
    std::printf("llama.cpp: failed: %s\n", line.substr(0, 300).c_str());
  }
  return 0;
}
