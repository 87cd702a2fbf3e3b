#pragma once
// Prefill and decode speed of the engine and of llama.cpp on the same weights, each measured in a
// child process (a fresh heap and thread pool per model): the engine's child is the bench binary
// itself run with --child; llama.cpp's is node-llama-cpp's prebuilt CPU binary
// (tests/llama_cpp/bench_gguf.mjs). Both print one JSON line in ms.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/command_output.h"
#include "core/model/model.h"

// A fixed prompt of `n` ids spread over the vocabulary.
inline std::vector<int32_t> bench_prompt(int64_t vocab, int n) {
  std::vector<int32_t> p;
  for (int64_t i = 0; i < n; ++i) p.push_back(int32_t((i * 7919 + 104729) % (vocab - 2)));
  return p;
}

// The engine's side, run in the child: a warm-up, then the better of two prefills of the prompt
// and of two whole generations of `decode` tokens.
inline int engine_speed_child(const std::string& model_dir, const std::string& run, int prompt_len, int decode) {
  using clock_type = std::chrono::steady_clock;
  auto ms_since = [](clock_type::time_point t0) { return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count(); };
  const auto model = sq::Model::load(model_dir, run);
  const std::vector<int32_t> prompt = bench_prompt(model->config().vocab_size, prompt_len);
  sq::GenerateOptions one;
  one.max_new_tokens = 1;
  one.stop_at_eos = false;
  sq::GenerateOptions all = one;
  all.max_new_tokens = decode;
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

struct SpeedFigures {
  double prefill = 0, decode = 0;  // tokens per second
  std::string note;
};

inline SpeedFigures speed_figures(const std::string& json_line, int prompt_len, int decode) {
  try {
    const auto j = nlohmann::json::parse(json_line.substr(json_line.find('{')));
    SpeedFigures f{prompt_len / (j["prefill_ms"].get<double>() / 1e3), (decode - 1) / (j["decode_ms"].get<double>() / 1e3), ""};
    if (j.contains("packed")) f.note = std::to_string(j["packed"].get<int>()) + "/" + std::to_string(j["linears"].get<int>()) + " packed";
    return f;
  } catch (const std::exception&) {
    return {0, 0, "failed: " + json_line.substr(0, 200)};
  }
}

// `self` is the bench binary (argv[0]), which must answer `--child MODEL RUN PROMPT DECODE`.
inline SpeedFigures engine_speed(const std::string& self, const std::string& model, const std::string& run, int prompt_len,
                                 int decode) {
  return speed_figures(command_output(self + " --child '" + model + "' '" + run + "' " + std::to_string(prompt_len) + " " +
                                      std::to_string(decode)),
                       prompt_len, decode);
}

inline SpeedFigures llama_cpp_speed(const std::string& source_dir, const std::string& gguf, int threads, int64_t vocab,
                                    int prompt_len, int decode) {
  std::string ids;
  for (int32_t t : bench_prompt(vocab, prompt_len)) ids += (ids.empty() ? "" : ",") + std::to_string(t);
  return speed_figures(command_output("cd '" + source_dir + "/tests/llama_cpp' && node bench_gguf.mjs '" + gguf + "' " +
                                      std::to_string(threads) + " " + ids + " " + std::to_string(decode) + " 2>&1"),
                       prompt_len, decode);
}
