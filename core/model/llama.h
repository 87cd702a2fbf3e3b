#pragma once
// The LLaMA-family decoder (LLaMA, Qwen2, Mistral) with Hugging Face transformers' semantics:
// RMSNorm in fp32, rotate-half RoPE, grouped-query attention, causal and padding masks, SwiGLU,
// tied embeddings. Weights stay in their stored dtype (memory-mapped); compute is fp32.
// Torch-facing: include only from the engine's own translation units.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model/attention.h"
#include "core/model/config.h"
#include "core/io/safetensors.h"
#include "core/io/torch_view.h"
#include "core/run/progress.h"
#include "core/run/torch_device.h"

namespace sq {

class PackedLinear;

// The most MLP activations ([tokens, intermediate_size] values of one of gate, up or their
// product) a forward pass holds at once: 4 Mi fp32 values, 16 MB. Below glibc's 32 MB ceiling for
// heap blocks, so that each block reuses freed heap memory instead of mapping fresh pages (at
// 64 MB blocks, page faults on them cost a batch of judge prompts at Llama-3.2-1B's width a third
// of its time). Every demo-sized batch fits in one block.
constexpr int64_t kMlpValuesPerBlock = int64_t(1) << 22;

// A linear layer's weight [out, in]: a floating-point tensor, or the packed codes of a quantized
// one, which the layer then computes on.
struct Linear {
  torch::Tensor weight;
  std::shared_ptr<const PackedLinear> packed;
};

struct DecoderLayer {
  torch::Tensor input_norm, post_norm;
  Linear q, k, v, o, gate, up, down;
  torch::Tensor q_bias, k_bias, v_bias, o_bias;
};

// Per layer, the keys and values of every position seen so far: [batch, kv_heads, seq, head_dim].
struct KVCache {
  std::vector<torch::Tensor> keys, values;
  int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
};

// Called at the named hook points: "layer.<i>" (residual stream after block i), "layer.<i>.attn"
// and "layer.<i>.mlp" (the block's attention and MLP outputs), each [batch, seq, hidden]; and at
// the inputs of its linear layers: "layer.<i>.qkv_in", "layer.<i>.o_in", "layer.<i>.mlp_in"
// (gate and up) and "layer.<i>.down_in". A hook may edit "layer.<i>" in place: the next block
// reads what it leaves (activation steering).
using HookFn = std::function<void(const std::string& name, const torch::Tensor& value)>;
// The same, with the index of the batch the value belongs to.
using LayerwiseHookFn = std::function<void(size_t batch, const std::string& name, const torch::Tensor& value)>;

class Llama {
 public:
  // Weights viewed from a checkpoint (memory-mapped, read-only; copied once to `device` unless it
  // is the CPU); `overrides` replace some of them by name (a quantized model's dequantized linear
  // layers, or parameters a run changed), and `packed` linear weights by name are computed on
  // their codes (the checkpoint's tensor of that name is never read). Everything the model
  // computes is on `device`.
  Llama(ModelConfig config, std::shared_ptr<const Checkpoint> weights, torch::Device device,
        std::map<std::string, torch::Tensor> overrides = {},
        const std::map<std::string, std::shared_ptr<const PackedLinear>>& packed = {});
  // Weights held in memory by name, e.g. parameters being trained (gradients flow through); the
  // model computes on their device, which they must share.
  Llama(ModelConfig config, const std::map<std::string, torch::Tensor>& tensors);

  // The positions that get logits: every one (scoring), only the last (a prompt before
  // generation, where the head over every position would cost up to a third as much as the whole
  // model), or none: the caller takes logits() of the rows it needs (training, whose loss reads a
  // fraction of the positions).
  enum class LogitRows { All, Last, None };
  // tokens [B, T] int64; mask [B, past + T] (1 = real token, 0 = left padding) or undefined for
  // no padding; returns logits [B, T, vocab] (or [B, 1, vocab] for LogitRows::Last; the residual
  // stream after the last block [B, T, hidden] for LogitRows::None) in fp32 and extends `cache`
  // when given. Records gradients unless the caller holds a torch::NoGradGuard.
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& mask, KVCache* cache,
                        const HookFn& hook = nullptr, LogitRows rows = LogitRows::All) const;

  // Logits [B, T, vocab] of residual-stream states after the last block.
  torch::Tensor logits(const torch::Tensor& hidden) const;

  struct Batch {
    torch::Tensor tokens, mask;  // [B, T] each; mask may be undefined (no padding)
  };
  // Token prompts in batches of `batch_size`, in order, each left-padded: every prompt ends at
  // the same column, so one new column serves all. The padding id is never attended to. An
  // empty prompt is refused. The batches are on `device`.
  static std::vector<Batch> left_padded(const std::vector<std::vector<int32_t>>& prompts, size_t batch_size,
                                        torch::Device device);
  // The same with the batches given as groups of prompt indices (e.g. length_batches): row r of
  // batch b is prompt groups[b][r].
  static std::vector<Batch> left_padded(const std::vector<std::vector<int32_t>>& prompts,
                                        const std::vector<std::vector<size_t>>& groups, torch::Device device);
  // Layer-by-layer onloading: every batch goes through decoder layer 0, then every batch through
  // layer 1, …, so each layer's weights are read once; with `release`, a layer's pages are handed
  // back as soon as it is done, and peak memory is about one layer plus the activations, whatever
  // the depth. Returns each batch's residual stream after the last block.
  std::vector<torch::Tensor> forward_layerwise(const std::vector<Batch>& batches, const LayerwiseHookFn& hook,
                                               const Progress& progress, bool release = true) const;

  // The pieces forward_layerwise is made of, for calibration that works block by block.
  struct State {
    torch::Tensor x, cos, sin, key_mask;  // residual stream, rotary tables, real tokens [B, S] (undefined: all)
  };
  std::vector<State> embed(const std::vector<Batch>& batches) const;
  void run_block(int64_t i, std::vector<State>& states, const LayerwiseHookFn& hook) const;
  // Hands layer i's weight pages back (memory-mapped weights only).
  void release_layer(int64_t i) const;

  // What is quantized on the fly (16: not at all): the inputs of every linear layer, per token;
  // the queries at the q·k product, and the keys (both after the rotary embedding) and values as
  // the KV cache holds them, per token and head, asymmetric, in groups of 128 channels or the
  // head size.
  void set_runtime_bits(int activations, int queries, int kv) {
    act_bits_ = activations;
    q_bits_ = queries;
    kv_bits_ = kv;
  }

  // The most attention scores and MLP activations one forward pass holds at once (see
  // attention.h): long prompts go through in blocks of queries and of tokens. Tests set them small.
  void set_block_limits(int64_t attention_scores, int64_t mlp_values) {
    attention_scores_ = attention_scores;
    mlp_values_ = mlp_values;
  }

  const ModelConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  // Linear layers computing on packed codes, and linear layers in all.
  std::pair<int64_t, int64_t> packed_linears() const;

 private:
  void init(const std::function<torch::Tensor(const std::string&, const std::vector<int64_t>&)>& fetch,
            const std::map<std::string, std::shared_ptr<const PackedLinear>>& packed = {});
  // Embeddings, rotary tables and the padding mask for `tokens` after `past` cached positions.
  State prepare(const torch::Tensor& tokens, const torch::Tensor& mask, int64_t past) const;
  torch::Tensor block(int64_t i, const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                      const torch::Tensor& key_mask, KVCache* cache, const HookFn& hook) const;

  ModelConfig config_;
  torch::Device device_ = torch::kCPU;  // host: until a constructor sets it
  std::shared_ptr<const Checkpoint> weights_;
  torch::Tensor embed_, final_norm_, lm_head_, inv_freq_;
  std::vector<DecoderLayer> layers_;
  std::vector<std::vector<std::string>> layer_tensor_names_;
  int act_bits_ = 16, q_bits_ = 16, kv_bits_ = 16;
  int64_t attention_scores_ = kAttentionScoresPerBlock, mlp_values_ = kMlpValuesPerBlock;
};

// RoPE inverse frequencies [head_dim / 2] as transformers computes them, with the config's
// linear or llama3 rescaling, on `device`.
torch::Tensor inverse_frequencies(const ModelConfig& c, torch::Device device);

// What a quantization run applied to a model of this config may hold (QuantRun::shapes): the
// model's parameters and a rotated run's residual rotation [hidden, hidden].
std::map<std::string, std::vector<int64_t>> run_shapes(const ModelConfig& c);

}  // namespace sq
