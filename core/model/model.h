#pragma once
// A loaded LLaMA-family model behind a plain C++ interface (no torch types), so that the CLI and
// the GUI controllers stay cheap to compile. The forward pass itself is in llama.cpp.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/chat_template.h"
#include "core/model/config.h"
#include "core/model/tokenizer.h"
#include "core/run/device.h"
#include "core/run/progress.h"

namespace sq {

// Activation addition: `add` [hidden] is summed into the residual stream after decoder layer
// `layer`, at every position, in the model's own basis (a rotated run rotates it first).
struct Steering {
  int layer = -1;  // -1: none
  std::vector<float> add;
};

struct GenerateOptions {
  int max_new_tokens = 64;
  double temperature = 0.0;  // 0: greedy
  double top_p = 1.0;
  uint64_t seed = 0;
  bool stop_at_eos = true;
  Steering steering;
};

struct CaptureOptions {
  std::vector<std::string> points;  // hook points; empty = every "layer.<i>"
  int batch_size = 8;
  bool onload = true;  // hand each layer's weight pages back once every batch has passed it
  Progress progress;
};

// Per hook point, one row per prompt, row-major [n, hidden] fp32: the state at the prompt's
// last token and its mean over the prompt's tokens.
struct Activations {
  int64_t n = 0, hidden = 0;
  std::vector<std::string> points;
  std::map<std::string, std::vector<float>> last, mean;
};

// Per hook point, each channel's mean |activation| over every real (unpadded) token of the
// prompts: the statistic that shows outlier channels, which per-token activation quantization
// spends its range on. Linear inputs ("layer.<i>.qkv_in", …) are as the layers receive them
// (a rotated or smoothed run's in its own basis: what its quantizer saw), before any rounding.
struct ChannelMagnitudes {
  int64_t tokens = 0;
  std::vector<std::string> points;
  std::map<std::string, std::vector<double>> mean_abs;  // point -> [its width]
};

// The next token's logits after one prompt: those of the ids asked for, in their order, and the
// most likely token over the whole vocabulary.
struct NextTokenScores {
  std::vector<float> logits;
  int32_t argmax = -1;
};

// How a quantization run's linear layers compute: on their packed codes with the quantized
// kernels (W4/W8 weights, integer dot products for activations of 8 bits or fewer), or as the
// quantizer saw them, fake-quantized floating point. The two agree within float rounding; layers
// whose shape has no packed layout compute fake-quantized either way.
enum class QuantExecution { Kernels, FakeQuant };

class Model {
 public:
  // Reads config.json, the safetensors weights and tokenizer.json of a Hugging Face folder
  // (compressed-tensors quantized folders included), or a .gguf file; with a quantization run
  // folder, the model computes with that run's fake-quantized weights and per-token quantized
  // activations. An export folder (or the folder of an exported .gguf) is checked against its
  // manifest.json first: every file's size on each load, their SHA-256 on the first load of that
  // manifest and whenever `verify` is set. The model computes on `device` (see parse_device).
  // Throws sq::Error naming the file and the problem.
  static std::unique_ptr<Model> load(const std::string& dir, const std::string& quant_run = "", bool verify = false,
                                     ComputeDevice device = {}, QuantExecution execution = QuantExecution::Kernels);
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  virtual const std::string& dir() const = 0;  // the folder or .gguf file it was loaded from
  // The chat format from tokenizer_config.json (or the GGUF's tokenizer.chat_template).
  virtual const ChatTemplate& chat_template() const = 0;
  // The quantization run applied, or empty for full precision.
  virtual const std::string& quant_run() const = 0;
  // How many linear layers compute on packed codes (QuantExecution::Kernels), of how many.
  virtual std::pair<int64_t, int64_t> packed_linears() const = 0;
  virtual ComputeDevice device() const = 0;

  // Logits of every position of one sequence: [tokens.size()][vocab_size].
  virtual std::vector<std::vector<float>> logits(const std::vector<int32_t>& tokens) const = 0;

  // Completions of several prompts at once (left-padded batch, KV cache); new tokens only.
  virtual std::vector<std::vector<int32_t>> generate(const std::vector<std::vector<int32_t>>& prompts,
                                                     const GenerateOptions& options) const = 0;

  // Scores the token after each of several prompts that all begin with `prefix`: the prefix runs
  // once and its keys and values serve every prompt (a judge's instructions), then each rest
  // (at least one token) in batches of up to `batch_size`, without decoding. Same results as
  // scoring prefix + rest alone, up to float rounding.
  virtual std::vector<NextTokenScores> next_token_scores(const std::vector<int32_t>& prefix,
                                                         const std::vector<std::vector<int32_t>>& rests,
                                                         const std::vector<int32_t>& ids, int batch_size,
                                                         const Progress& progress = {}) const = 0;

  // Runs the prompts layer by layer (see Llama::forward_layerwise) and keeps the pooled states.
  virtual Activations capture(const std::vector<std::vector<int32_t>>& prompts, const CaptureOptions& options) const = 0;

  // The same pass, keeping each point's channel magnitudes over every token instead (the points
  // of `options` must be named; any width, "layer.<i>.down_in" included).
  virtual ChannelMagnitudes channel_magnitudes(const std::vector<std::vector<int32_t>>& prompts,
                                               const CaptureOptions& options) const = 0;
};

}  // namespace sq
