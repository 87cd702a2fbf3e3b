#include "core/model/llama.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/model/prompt_encoding.h"
#include "core/quantized/fake_quant_ops.h"
#include "core/quantized/packed_linear.h"
#include "core/quantized/run_folder.h"
#include "core/run/threads.h"
#include "kernels/half_matmul.h"

namespace sq {
namespace {

// The input of a group of linear layers: as it came, and quantized per token for the layers that
// hold floating-point weights (undefined when none does, or activations stay unquantized).
struct LinearInput {
  torch::Tensor raw, quantized;
};

// x W^T in fp32 whatever W is stored as. Half-precision weights go to the half-precision kernels
// (on a CUDA device, many tokens through fp32 slices of W and cuBLAS); never an fp32 copy of W
// per call. Gradients go through LibTorch.
torch::Tensor project(const torch::Tensor& x, const torch::Tensor& w) {
  const bool half = w.scalar_type() == torch::kHalf || w.scalar_type() == torch::kBFloat16;
  if (!half || x.requires_grad() || w.requires_grad() || !w.is_contiguous()) return torch::matmul(x, w.to(torch::kFloat32).t());
  const int64_t rows = w.size(0), cols = w.size(1);
  const torch::Tensor flat = x.to(torch::kFloat32).contiguous().view({-1, cols});
  const int64_t n = flat.size(0);
  const kernels::HalfKind kind = w.scalar_type() == torch::kHalf ? kernels::HalfKind::F16 : kernels::HalfKind::BF16;
  const auto* bits = static_cast<const uint16_t*>(w.data_ptr());
  const kernels::Device device = kernel_device(w);
  torch::Tensor y;
  if (n >= kManyTokens && device != kernels::Device::Cpu) {
    y = many_token_product(flat, rows, cols,
                          [&](int64_t r0, int64_t m, float* out) { kernels::half_to_float(device, kind, bits + r0 * cols, out, m * cols); });
  } else {
    y = torch::empty({n, rows}, flat.options());
    kernels::half_matmul(device, kind, bits, flat.data_ptr<float>(), y.data_ptr<float>(), rows, cols, n);
  }
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = rows;
  return y.view(shape);
}

// y = x W^T (+ b); a packed layer quantizes its input itself, to `act_bits`, and multiplies on
// its codes.
torch::Tensor project(const LinearInput& x, const Linear& w, int act_bits, const torch::Tensor& b = {}) {
  torch::Tensor y = w.packed ? w.packed->forward(x.raw, act_bits) : project(x.quantized.defined() ? x.quantized : x.raw, w.weight);
  return b.defined() ? y + b.to(torch::kFloat32) : y;
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  const torch::Tensor var = x.pow(2).mean(-1, true);
  return x * torch::rsqrt(var + eps) * w.to(torch::kFloat32);
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

}  // namespace

torch::Tensor inverse_frequencies(const ModelConfig& c, torch::Device device) {
  const int64_t d = c.head_dim;
  const torch::Tensor even = torch::arange(0, d, 2, torch::TensorOptions(torch::kInt64).device(device));
  torch::Tensor inv = 1.0 / torch::pow(c.rope_theta, even.to(torch::kFloat32) / double(d));
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == "linear") return inv / rs.factor;
  if (rs.type == "llama3") {
    const double low_wavelen = double(rs.original_max_position_embeddings) / rs.low_freq_factor;
    const double high_wavelen = double(rs.original_max_position_embeddings) / rs.high_freq_factor;
    const torch::Tensor wavelen = 2 * M_PI / inv;
    torch::Tensor scaled = torch::where(wavelen > low_wavelen, inv / rs.factor, inv);
    const torch::Tensor smooth = (double(rs.original_max_position_embeddings) / wavelen - rs.low_freq_factor) /
                                 (rs.high_freq_factor - rs.low_freq_factor);
    const torch::Tensor smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
    const torch::Tensor medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
    return torch::where(medium, smoothed, scaled);
  }
  return inv;
}


std::vector<Llama::Batch> Llama::left_padded(const std::vector<std::vector<int32_t>>& prompts, size_t batch_size,
                                             torch::Device device) {
  return left_padded(prompts, consecutive_batches(prompts.size(), batch_size), device);
}

std::vector<Llama::Batch> Llama::left_padded(const std::vector<std::vector<int32_t>>& prompts,
                                             const std::vector<std::vector<size_t>>& groups, torch::Device device) {
  std::vector<Batch> out;
  for (const std::vector<size_t>& group : groups) {
    size_t longest = 0;
    for (size_t i : group) {
      if (prompts[i].empty()) throw Error("an empty prompt cannot be run");
      longest = std::max(longest, prompts[i].size());
    }
    const int64_t B = int64_t(group.size()), T = int64_t(longest);
    std::vector<int64_t> tokens(size_t(B * T), 0), mask(size_t(B * T), 0);
    for (int64_t b = 0; b < B; ++b) {
      const auto& p = prompts[group[size_t(b)]];
      const size_t off = size_t(b * T + T) - p.size();
      for (size_t j = 0; j < p.size(); ++j) tokens[off + j] = p[j], mask[off + j] = 1;
    }
    const auto on = torch::TensorOptions(torch::kInt64).device(device);
    out.push_back({torch::tensor(tokens, on).view({B, T}), torch::tensor(mask, on).view({B, T})});
  }
  return out;
}

Llama::Llama(ModelConfig config, std::shared_ptr<const Checkpoint> weights, torch::Device device,
             std::map<std::string, torch::Tensor> overrides, const std::map<std::string, std::shared_ptr<const PackedLinear>>& packed)
    : config_(std::move(config)), device_(device), weights_(std::move(weights)) {
  auto check_known = [&](const std::string& name) {
    bool known = false;
    for (const ParamSpec& spec : parameter_specs(config_)) known = known || spec.name == name;
    if (!known) throw Error("replacement for '" + name + "', which this model does not have");
  };
  for (const auto& [name, t] : overrides) check_known(name);
  for (const auto& [name, p] : packed) check_known(name);
  init([&](const std::string& name, const std::vector<int64_t>& shape) {
    if (auto it = packed.find(name); it != packed.end()) {
      if (std::vector<int64_t>{it->second->rows(), it->second->cols()} != shape)
        throw Error("replacement for '" + name + "' has the wrong shape");
      return torch::Tensor();
    }
    if (auto it = overrides.find(name); it != overrides.end()) {
      if (it->second.sizes().vec() != shape) throw Error("replacement for '" + name + "' has the wrong shape");
      return it->second.to(device_);
    }
    // The tensors to read and their shapes come from config.json: a mismatch is as likely a
    // damaged config as a damaged checkpoint, so the message names both.
    if (!weights_->has(name))
      throw Error(weights_->where(), "no tensor " + quote_value(name) + ", which the model config.json describes has" +
                                         (name.find(".bias") != std::string::npos     ? " (attention_bias is true)"
                                          : name.rfind("lm_head.", 0) == 0 ? " (tie_word_embeddings is false)"
                                                                             : ""));
    const TensorView& v = weights_->tensor(name);
    if (v.shape != shape)
      throw Error(v.file->path(), "tensor " + quote_value(name) + " has shape " + shape_text(v.shape) + ", where config.json gives " +
                                      shape_text(shape));
    if (v.dtype != DType::F32 && v.dtype != DType::F16 && v.dtype != DType::BF16)
      throw Error(v.file->path(), "tensor '" + name + "' is " + dtype_name(v.dtype) + "; weights must be F32, F16 or BF16 (a quantized checkpoint "
                                  "needs config.json's quantization_config to say how it was quantized)");
    return as_tensor(v).to(device_);  // on the CPU, the mapped view itself
  }, packed);
}

Llama::Llama(ModelConfig config, const std::map<std::string, torch::Tensor>& tensors) : config_(std::move(config)) {
  if (!tensors.empty()) device_ = tensors.begin()->second.device();
  init([&](const std::string& name, const std::vector<int64_t>& shape) {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw Error("missing tensor '" + name + "'");
    if (it->second.sizes().vec() != shape) throw Error("tensor '" + name + "' has the wrong shape");
    if (it->second.device() != device_)
      throw Error("tensor '" + name + "' is on " + it->second.device().str() + ", the others on " + device_.str());
    return it->second;
  });
}

void Llama::init(const std::function<torch::Tensor(const std::string&, const std::vector<int64_t>&)>& fetch,
                 const std::map<std::string, std::shared_ptr<const PackedLinear>>& packed) {
  const ModelConfig& c = config_;
  std::map<std::string, torch::Tensor> t;
  for (const ParamSpec& spec : parameter_specs(c)) t[spec.name] = fetch(spec.name, spec.shape);
  auto take = [&](const std::string& name) {
    auto it = t.find(name);
    return it == t.end() ? torch::Tensor() : it->second;
  };
  auto linear = [&](const std::string& name) {
    auto it = packed.find(name);
    return Linear{take(name), it == packed.end() ? nullptr : it->second};
  };
  embed_ = take("model.embed_tokens.weight");
  final_norm_ = take("model.norm.weight");
  lm_head_ = c.tie_word_embeddings ? embed_ : take("lm_head.weight");
  inv_freq_ = inverse_frequencies(c, device_);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    DecoderLayer L;
    L.input_norm = take(p + "input_layernorm.weight");
    L.post_norm = take(p + "post_attention_layernorm.weight");
    L.q = linear(p + "self_attn.q_proj.weight");
    L.k = linear(p + "self_attn.k_proj.weight");
    L.v = linear(p + "self_attn.v_proj.weight");
    L.o = linear(p + "self_attn.o_proj.weight");
    L.q_bias = take(p + "self_attn.q_proj.bias");
    L.k_bias = take(p + "self_attn.k_proj.bias");
    L.v_bias = take(p + "self_attn.v_proj.bias");
    L.o_bias = take(p + "self_attn.o_proj.bias");
    L.gate = linear(p + "mlp.gate_proj.weight");
    L.up = linear(p + "mlp.up_proj.weight");
    L.down = linear(p + "mlp.down_proj.weight");
    layers_.push_back(std::move(L));
    std::vector<std::string> names;
    for (const auto& [name, tensor] : t)
      if (name.rfind(p, 0) == 0 && tensor.defined()) names.push_back(name);
    layer_tensor_names_.push_back(std::move(names));
  }
}

std::pair<int64_t, int64_t> Llama::packed_linears() const {
  int64_t packed = 0, all = 0;
  for (const DecoderLayer& L : layers_)
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) packed += l->packed != nullptr, ++all;
  return {packed, all};
}

torch::Tensor Llama::block(int64_t i, const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                           const torch::Tensor& key_mask, KVCache* cache, const HookFn& hook) const {
  const ModelConfig& c = config_;
  const DecoderLayer& L = layers_[static_cast<size_t>(i)];
  const int64_t B = x.size(0), T = x.size(1), D = c.head_dim;

  const std::string name = "layer." + std::to_string(i);
  // The input of a group of linear layers, as the hooks see it and as the layers compute with it.
  auto unhooked_input = [&](const torch::Tensor& v, std::initializer_list<const Linear*> readers) {
    bool dense = false;
    for (const Linear* r : readers) dense = dense || !r->packed;
    return LinearInput{v, dense && act_bits_ < 16 ? fake_quant_activations(v, act_bits_) : torch::Tensor()};
  };
  auto linear_input = [&](const torch::Tensor& v, const char* point, std::initializer_list<const Linear*> readers) {
    if (hook) hook(name + point, v);
    return unhooked_input(v, readers);
  };
  const LinearInput hn = linear_input(rms_norm(x, L.input_norm, c.rms_norm_eps), ".qkv_in", {&L.q, &L.k, &L.v});
  torch::Tensor q = project(hn, L.q, act_bits_, L.q_bias).view({B, T, c.num_heads, D}).transpose(1, 2);
  torch::Tensor k = project(hn, L.k, act_bits_, L.k_bias).view({B, T, c.num_kv_heads, D}).transpose(1, 2);
  torch::Tensor v = project(hn, L.v, act_bits_, L.v_bias).view({B, T, c.num_kv_heads, D}).transpose(1, 2);
  q = fake_quant_per_head(q * cos + rotate_half(q) * sin, q_bits_);
  k = fake_quant_per_head(k * cos + rotate_half(k) * sin, kv_bits_);
  v = fake_quant_per_head(v, kv_bits_);
  if (cache) {
    auto& ck = cache->keys[static_cast<size_t>(i)];
    auto& cv = cache->values[static_cast<size_t>(i)];
    ck = ck.defined() ? torch::cat({ck, k}, 2) : k;
    cv = cv.defined() ? torch::cat({cv, v}, 2) : v;
    k = ck;
    v = cv;
  }
  torch::Tensor attn = causal_attention(q, k, v, key_mask, attention_scores_);
  attn = project(linear_input(attn, ".o_in", {&L.o}), L.o, act_bits_, L.o_bias);
  if (hook) hook(name + ".attn", attn);
  const torch::Tensor mid = x + attn;
  const LinearInput h2 = linear_input(rms_norm(mid, L.post_norm, c.rms_norm_eps), ".mlp_in", {&L.gate, &L.up});
  auto swiglu = [&](const LinearInput& in) { return torch::silu(project(in, L.gate, act_bits_)) * project(in, L.up, act_bits_); };
  torch::Tensor mlp;
  const int64_t tokens_per_block = std::max<int64_t>(1, mlp_values_ / (B * c.intermediate_size));
  if (T <= tokens_per_block || mid.requires_grad()) {
    mlp = project(linear_input(swiglu(h2), ".down_in", {&L.down}), L.down, act_bits_);
  } else {
    // A long prompt goes through the MLP a block of tokens at a time (it works on each token
    // alone), so that gate, up and their product are never held for every token at once; only a
    // hook on the down projection's input sees that product whole.
    auto rows = [](const torch::Tensor& t, int64_t t0, int64_t n) { return t.defined() ? t.narrow(1, t0, n).contiguous() : t; };
    auto down = [&](const torch::Tensor& g) { return project(unhooked_input(g, {&L.down}), L.down, act_bits_); };
    std::vector<torch::Tensor> gated, out;
    for (int64_t t0 = 0; t0 < T; t0 += tokens_per_block) {
      const int64_t n = std::min(tokens_per_block, T - t0);
      const torch::Tensor g = swiglu(LinearInput{rows(h2.raw, t0, n), rows(h2.quantized, t0, n)});
      if (hook) gated.push_back(g);
      else out.push_back(down(g));
    }
    if (hook) {
      hook(name + ".down_in", torch::cat(gated, 1));
      for (const torch::Tensor& g : gated) out.push_back(down(g));
    }
    mlp = torch::cat(out, 1);
  }
  if (hook) hook(name + ".mlp", mlp);
  torch::Tensor out = mid + mlp;
  if (hook) hook(name, out);
  return out;
}

Llama::State Llama::prepare(const torch::Tensor& tokens, const torch::Tensor& mask_in, int64_t past) const {
  const ModelConfig& c = config_;
  const int64_t B = tokens.size(0), T = tokens.size(1), S = past + T;
  if (c.sliding_window > 0 && S > c.sliding_window)
    throw Error("sequence of " + std::to_string(S) + " tokens exceeds the model's sliding_window " + std::to_string(c.sliding_window));
  if (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= c.vocab_size)
    throw Error("token id outside the vocabulary (0.." + std::to_string(c.vocab_size - 1) + ")");
  const auto ints = torch::TensorOptions(torch::kInt64).device(device_);
  const torch::Tensor mask = mask_in.defined() ? mask_in.to(device_, torch::kInt64) : torch::ones({B, S}, ints);
  // Positions count real tokens only, so a left-padded prompt gets the positions it would alone.
  const torch::Tensor positions = (mask.cumsum(1) - 1).clamp_min(0).narrow(1, past, T).to(torch::kFloat32);
  const torch::Tensor freqs = positions.unsqueeze(-1) * inv_freq_.unsqueeze(0).unsqueeze(0);  // [B, T, D/2]
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                    // [B, 1, T, D]
  State p;
  p.cos = emb.cos();
  p.sin = emb.sin();
  if (mask_in.defined()) p.key_mask = mask.to(torch::kBool);
  p.x = embed_.index_select(0, tokens.reshape({-1}).to(device_, torch::kInt64)).to(torch::kFloat32).view({B, T, c.hidden_size});
  return p;
}

torch::Tensor Llama::forward(const torch::Tensor& tokens, const torch::Tensor& mask, KVCache* cache,
                             const HookFn& hook, LogitRows rows) const {
  if (cache && cache->keys.empty()) {
    cache->keys.resize(static_cast<size_t>(config_.num_layers));
    cache->values.resize(static_cast<size_t>(config_.num_layers));
  }
  fit_threads();  // to the cores free now: a decode is thousands of forward passes
  State p = prepare(tokens, mask, cache ? cache->length() : 0);
  for (int64_t i = 0; i < config_.num_layers; ++i) p.x = block(i, p.x, p.cos, p.sin, p.key_mask, cache, hook);
  if (rows == LogitRows::None) return p.x;
  return logits(rows == LogitRows::Last ? p.x.narrow(1, p.x.size(1) - 1, 1) : p.x);
}

torch::Tensor Llama::logits(const torch::Tensor& hidden) const {
  return project(rms_norm(hidden, final_norm_, config_.rms_norm_eps), lm_head_);
}

std::vector<Llama::State> Llama::embed(const std::vector<Batch>& batches) const {
  torch::NoGradGuard no_grad;
  std::vector<State> states;
  for (const Batch& b : batches) states.push_back(prepare(b.tokens, b.mask, 0));
  return states;
}

void Llama::run_block(int64_t i, std::vector<State>& states, const LayerwiseHookFn& hook) const {
  for (size_t b = 0; b < states.size(); ++b) {
    fit_threads();
    State& s = states[b];
    const HookFn batch_hook = hook ? HookFn([&](const std::string& name, const torch::Tensor& v) { hook(b, name, v); })
                                   : HookFn();
    s.x = block(i, s.x, s.cos, s.sin, s.key_mask, nullptr, batch_hook);
  }
}

void Llama::release_layer(int64_t i) const {
  if (!weights_) return;
  for (const std::string& name : layer_tensor_names_[static_cast<size_t>(i)]) weights_->release(name);
}

std::vector<torch::Tensor> Llama::forward_layerwise(const std::vector<Batch>& batches, const LayerwiseHookFn& hook,
                                                    const Progress& progress, bool release) const {
  torch::NoGradGuard no_grad;
  std::vector<State> states = embed(batches);
  if (release && weights_) weights_->release("model.embed_tokens.weight");
  const int64_t L = config_.num_layers;
  for (int64_t i = 0; i < L; ++i) {
    progress.step(i, L, "running layer by layer");
    run_block(i, states, hook);
    if (release) release_layer(i);
  }
  progress.step(L, L, "running layer by layer");
  std::vector<torch::Tensor> out;
  for (State& s : states) out.push_back(std::move(s.x));
  return out;
}

std::map<std::string, std::vector<int64_t>> run_shapes(const ModelConfig& c) {
  std::map<std::string, std::vector<int64_t>> shapes{{kResidualRotation, {c.hidden_size, c.hidden_size}}};
  for (ParamSpec& spec : parameter_specs(c)) shapes[spec.name] = std::move(spec.shape);
  return shapes;
}

}  // namespace sq
