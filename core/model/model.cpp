#include "core/model/model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/manifest.h"
#include "core/io/sha256.h"
#include "core/model/compressed_tensors.h"
#include "core/model/gguf_model.h"
#include "core/model/llama.h"
#include "core/model/prompt_encoding.h"
#include "core/quantized/packed_linear.h"
#include "core/quantized/run_folder.h"
#include "core/run/resources.h"
#include "kernels/hadamard.h"

namespace sq {
namespace {

// x Qᵀ over the last dimension, for a rotated run's residual stream Q. A randomized Hadamard
// Q = H diag(s) / √n (rotation.h) gives x Qᵀ = (x ∘ s) H / √n: the fast transform, n log n
// additions per vector instead of an n × n product per captured state.
class Unrotation {
 public:
  Unrotation() = default;
  Unrotation(const torch::Tensor& q, torch::Device device) : qt_(q.t().contiguous().to(device)) {
    const int64_t n = q.size(0);
    if (n < 2 || (n & (n - 1)) != 0) return;
    const torch::Tensor s = q[0] * std::sqrt(double(n));  // H's first row is all ones
    torch::Tensor candidate = torch::diag(s).to(torch::kCPU, torch::kFloat32).contiguous();  // host: a check made once
    kernels::hadamard_transform(kernels::Device::Cpu, candidate.data_ptr<float>(), n, n, float(1 / std::sqrt(double(n))));
    if (torch::allclose(candidate, qt_.to(torch::kCPU), 0, 1e-6)) signs_ = s.to(device, torch::kFloat32);  // host: as above
  }
  bool defined() const { return qt_.defined(); }
  torch::Tensor apply(const torch::Tensor& x) const {
    if (!signs_.defined()) return torch::matmul(x, qt_);
    torch::Tensor y = (x.to(torch::kFloat32) * signs_).contiguous();
    const int64_t n = y.size(-1);
    kernels::hadamard_transform(kernel_device(y), y.data_ptr<float>(), y.numel() / n, n, float(1 / std::sqrt(double(n))));
    return y;
  }
  // x Q: steering vectors go into the rotated stream.
  torch::Tensor rotate(const torch::Tensor& x) const { return torch::matmul(x, qt_.t()); }

 private:
  torch::Tensor qt_, signs_;  // Qᵀ; s when Q is a randomized Hadamard
};

class LlamaModel final : public Model {
 public:
  LlamaModel(std::string dir, ComputeDevice device, Llama net, Tokenizer tokenizer, ChatTemplate chat, std::string quant_run,
             int act_bits, torch::Tensor stream_rotation = {}, int q_bits = 16, int kv_bits = 16)
      : dir_(std::move(dir)),
        device_(device),
        quant_run_(std::move(quant_run)),
        net_(std::move(net)),
        tokenizer_(std::move(tokenizer)),
        chat_(std::move(chat)),
        unrotate_(stream_rotation.defined() ? Unrotation(stream_rotation, net_.device()) : Unrotation()) {
    net_.set_runtime_bits(act_bits, q_bits, kv_bits);
  }

  const ModelConfig& config() const override { return net_.config(); }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  const std::string& dir() const override { return dir_; }
  const std::string& quant_run() const override { return quant_run_; }
  ComputeDevice device() const override { return device_; }
  std::pair<int64_t, int64_t> packed_linears() const override { return net_.packed_linears(); }

  // A prompt longer than the model's context is refused: positions past max_position_embeddings
  // are rotary angles the model never saw, and its output there is not the model's.
  void check_context(size_t prompt, size_t new_tokens) const {
    const size_t limit = size_t(config().max_position_embeddings);
    if (prompt + new_tokens > limit)
      throw Error(dir_, "a prompt of " + std::to_string(prompt) + " tokens" +
                            (new_tokens ? " and " + std::to_string(new_tokens) + " new ones exceed" : " exceeds") +
                            " the model's context of " + std::to_string(limit) +
                            " (max_position_embeddings); shorten it, or keep its last tokens with --truncate");
  }

  // What every layer-by-layer pass over prompts refuses first: none, a batch of none, a prompt
  // past the context or with an id outside the vocabulary.
  void check_prompts(const std::vector<std::vector<int32_t>>& prompts, const CaptureOptions& o, const char* none) const {
    if (prompts.empty()) throw Error(none);
    if (o.batch_size < 1) throw Error("batch size must be at least 1");
    for (const auto& p : prompts) check_context(p.size(), 0), check_ids(p);
  }

  void check_ids(const std::vector<int32_t>& tokens) const {
    for (int32_t id : tokens)
      if (id < 0 || id >= config().vocab_size)
        throw Error(dir_, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                              std::to_string(config().vocab_size - 1) + ", vocab_size)");
  }

  // NaN or infinity in the weights turns every logit into NaN: say so instead of generating
  // nothing.
  void check_finite(const torch::Tensor& logits) const {
    if (!torch::isfinite(logits).all().item<bool>())
      throw Error(dir_, "the model's logits hold NaN or infinity: its weights" +
                            (quant_run_.empty() ? std::string() : " (or the quantization run " + quant_run_ + ")") +
                            " hold NaN or infinite values");
  }
  const ChatTemplate& chat_template() const override { return chat_; }

  std::vector<std::vector<float>> logits(const std::vector<int32_t>& tokens) const override {
    if (tokens.empty()) throw Error("no tokens to run");
    check_context(tokens.size(), 0);
    check_ids(tokens);
    torch::NoGradGuard no_grad;
    const torch::Tensor t = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()),
                                          torch::TensorOptions(torch::kInt64).device(net_.device())).unsqueeze(0);
    const torch::Tensor out = net_.forward(t, {}, nullptr).squeeze(0).to(torch::kCPU).contiguous();  // host: returned as floats
    check_finite(out);
    std::vector<std::vector<float>> rows(static_cast<size_t>(out.size(0)));
    for (int64_t i = 0; i < out.size(0); ++i) {
      const float* p = out[i].data_ptr<float>();
      rows[static_cast<size_t>(i)].assign(p, p + out.size(1));
    }
    return rows;
  }

  std::vector<std::vector<int32_t>> generate(const std::vector<std::vector<int32_t>>& prompts,
                                             const GenerateOptions& o) const override {
    torch::NoGradGuard no_grad;
    std::vector<std::vector<int32_t>> out(prompts.size());
    if (prompts.empty() || o.max_new_tokens <= 0) return out;
    for (const auto& p : prompts) check_context(p.size(), size_t(o.max_new_tokens)), check_ids(p);
    auto [tokens, mask] = Llama::left_padded(prompts, prompts.size(), net_.device()).front();
    const std::set<int64_t> eos(config().eos_token_ids.begin(), config().eos_token_ids.end());
    // Sampling draws on the host, so that a seed gives the same completions on every device.
    auto gen = at::detail::createCPUGenerator(o.seed);
    std::vector<bool> done(prompts.size(), false);
    KVCache cache;
    const HookFn steer = steering_hook(o.steering);
    torch::Tensor step = std::move(tokens);
    for (int n = 0; n < o.max_new_tokens; ++n) {
      const torch::Tensor logits = net_.forward(step, mask, &cache, steer, Llama::LogitRows::Last).select(1, -1);  // [B, V]
      check_finite(logits);
      const torch::Tensor next = pick(logits, o, gen);
      const torch::Tensor ids = next.to(torch::kCPU);  // host: read token by token
      bool all_done = true;
      for (int64_t b = 0; b < int64_t(prompts.size()); ++b) {
        if (done[size_t(b)]) continue;
        const int64_t id = ids[b].item<int64_t>();
        if (o.stop_at_eos && eos.count(id)) {
          done[size_t(b)] = true;
          continue;
        }
        out[size_t(b)].push_back(int32_t(id));
        all_done = false;
      }
      if (all_done) break;
      step = next.unsqueeze(1);
      mask = torch::cat({mask, torch::ones({mask.size(0), 1}, mask.options())}, 1);
    }
    return out;
  }

  std::vector<NextTokenScores> next_token_scores(const std::vector<int32_t>& prefix, const std::vector<std::vector<int32_t>>& rests,
                                                 const std::vector<int32_t>& ids, int batch_size,
                                                 const Progress& progress) const override {
    if (rests.empty()) throw Error("no prompts to score");
    if (batch_size < 1) throw Error("batch size must be at least 1");
    check_ids(prefix), check_ids(ids);
    for (const auto& r : rests) {
      if (r.empty()) throw Error("a prompt to score has no tokens after the shared prefix");
      check_context(prefix.size() + r.size(), 0), check_ids(r);
    }
    torch::NoGradGuard no_grad;
    const auto ints = torch::TensorOptions(torch::kInt64).device(net_.device());
    const int64_t P = int64_t(prefix.size());
    KVCache shared;
    if (P) net_.forward(torch::tensor(std::vector<int64_t>(prefix.begin(), prefix.end()), ints).unsqueeze(0), {}, &shared, nullptr,
                        Llama::LogitRows::None);
    const torch::Tensor wanted = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), ints);
    std::vector<NextTokenScores> out(rests.size());
    const std::vector<std::vector<size_t>> groups = length_batches(rests, size_t(batch_size));
    for (size_t g = 0; g < groups.size(); ++g) {
      progress.step(int64_t(g), int64_t(groups.size()), "scoring");
      const std::vector<size_t>& rows = groups[g];
      const int64_t B = int64_t(rows.size());
      size_t T = 0;
      for (size_t i : rows) T = std::max(T, rests[i].size());
      // Padded on the right: every prompt then continues the prefix at the same column, and a
      // real token never sees a padding one (they come after it).
      std::vector<int64_t> tokens(size_t(B) * T, 0), mask(size_t(B) * (size_t(P) + T), 0), last(static_cast<size_t>(B), 0);
      for (int64_t b = 0; b < B; ++b) {
        const auto& r = rests[rows[size_t(b)]];
        std::copy(r.begin(), r.end(), tokens.begin() + std::ptrdiff_t(size_t(b) * T));
        std::fill_n(mask.begin() + std::ptrdiff_t(size_t(b) * (size_t(P) + T)), size_t(P) + r.size(), 1);
        last[size_t(b)] = int64_t(r.size()) - 1;
      }
      KVCache cache;
      for (size_t l = 0; l < shared.keys.size(); ++l) {
        cache.keys.push_back(shared.keys[l].expand({B, -1, -1, -1}));
        cache.values.push_back(shared.values[l].expand({B, -1, -1, -1}));
      }
      const torch::Tensor hidden = net_.forward(torch::tensor(tokens, ints).view({B, int64_t(T)}),
                                                torch::tensor(mask, ints).view({B, P + int64_t(T)}), &cache, nullptr,
                                                Llama::LogitRows::None);  // [B, T, hidden]
      const torch::Tensor at = hidden.index({torch::arange(B, ints), torch::tensor(last, ints)}).unsqueeze(1);
      const torch::Tensor logits = net_.logits(at).squeeze(1);  // [B, V]
      check_finite(logits);
      const torch::Tensor picked = logits.index_select(1, wanted).to(torch::kCPU).contiguous();  // host: a few values a prompt
      const torch::Tensor best = logits.argmax(1).to(torch::kCPU);                                // host: as above
      for (int64_t b = 0; b < B; ++b) {
        NextTokenScores& s = out[rows[size_t(b)]];
        s.logits.assign(picked[b].data_ptr<float>(), picked[b].data_ptr<float>() + picked.size(1));
        s.argmax = int32_t(best[b].item<int64_t>());
      }
    }
    progress.step(int64_t(groups.size()), int64_t(groups.size()), "scoring");
    return out;
  }

  Activations capture(const std::vector<std::vector<int32_t>>& prompts, const CaptureOptions& o) const override {
    check_prompts(prompts, o, "no prompts to capture");
    const ModelConfig& c = config();
    Activations a;
    a.n = int64_t(prompts.size());
    a.hidden = c.hidden_size;
    a.points = o.points;
    if (a.points.empty())
      for (int64_t i = 0; i < c.num_layers; ++i) a.points.push_back("layer." + std::to_string(i));
    for (const std::string& p : a.points) {
      if (!valid_point(p)) throw Error("unknown hook point '" + p + "' (layer.<i>, layer.<i>.attn, layer.<i>.mlp, …)");
      // Rows are hidden_size wide; the MLP's inner activations are not.
      if (p.size() > 8 && p.compare(p.size() - 8, 8, ".down_in") == 0)
        throw Error("hook point '" + p + "' is intermediate_size wide; states are captured at hidden-wide points");
      a.last[p].assign(size_t(a.n * a.hidden), 0.f);
      a.mean[p].assign(size_t(a.n * a.hidden), 0.f);
    }
    const std::vector<std::vector<size_t>> rows = length_batches(prompts, size_t(o.batch_size));
    const std::vector<Llama::Batch> batches = Llama::left_padded(prompts, rows, net_.device());
    const auto hook = [&](size_t b, const std::string& name, const torch::Tensor& tap) {
      auto it = a.last.find(name);
      if (it == a.last.end()) return;
      // A rotated run's residual stream is the original's times Q: captured back in the original
      // basis, so that probes and projections of the full-precision model apply.
      const torch::Tensor v = unrotate_.defined() ? unrotate_.apply(tap) : tap;
      const torch::Tensor m = batches[b].mask.unsqueeze(-1).to(torch::kFloat32);  // [B, T, 1]
      const torch::Tensor last = v.select(1, -1).to(torch::kCPU).contiguous();  // host: kept as floats
      const torch::Tensor mean = ((v * m).sum(1) / m.sum(1)).to(torch::kCPU).contiguous();  // host: kept as floats
      for (size_t r = 0; r < rows[b].size(); ++r) {
        const std::ptrdiff_t at = std::ptrdiff_t(rows[b][r] * size_t(a.hidden));
        std::copy_n(last.data_ptr<float>() + r * size_t(a.hidden), a.hidden, it->second.begin() + at);
        std::copy_n(mean.data_ptr<float>() + r * size_t(a.hidden), a.hidden, a.mean[name].begin() + at);
      }
    };
    net_.forward_layerwise(batches, hook, o.progress, o.onload);
    return a;
  }

  ChannelMagnitudes channel_magnitudes(const std::vector<std::vector<int32_t>>& prompts, const CaptureOptions& o) const override {
    check_prompts(prompts, o, "no prompts to measure");
    if (o.points.empty()) throw Error("no hook points to measure");
    ChannelMagnitudes r;
    r.points = o.points;
    std::map<std::string, torch::Tensor> sums;  // point -> [width] fp64 sum of |activation|
    for (const std::string& p : r.points)
      if (!valid_point(p)) throw Error("unknown hook point '" + p + "' (layer.<i>, layer.<i>.qkv_in, layer.<i>.down_in, …)");
    const std::vector<Llama::Batch> batches = Llama::left_padded(prompts, length_batches(prompts, size_t(o.batch_size)), net_.device());
    for (const std::vector<int32_t>& p : prompts) r.tokens += int64_t(p.size());
    const auto hook = [&](size_t b, const std::string& name, const torch::Tensor& tap) {
      if (std::find(r.points.begin(), r.points.end(), name) == r.points.end()) return;
      const torch::Tensor m = batches[b].mask.unsqueeze(-1).to(torch::kFloat64);  // [B, T, 1]: padding counts nothing
      const torch::Tensor s = (tap.to(torch::kFloat64).abs() * m).sum(std::vector<int64_t>{0, 1}).to(torch::kCPU);  // host: a few sums per channel
      torch::Tensor& acc = sums[name];
      acc = acc.defined() ? acc + s : s;
    };
    net_.forward_layerwise(batches, hook, o.progress, o.onload);
    for (const std::string& p : r.points) {
      const torch::Tensor mean = (sums.at(p) / double(r.tokens)).contiguous();
      r.mean_abs[p].assign(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
    }
    return r;
  }

 private:
  // The residual stream after a block reaches the hooks before the next block reads it, so
  // adding to it in place steers everything downstream.
  HookFn steering_hook(const Steering& s) const {
    if (s.layer < 0) return nullptr;
    if (s.layer >= config().num_layers || int64_t(s.add.size()) != config().hidden_size)
      throw Error("steering needs a layer below " + std::to_string(config().num_layers) + " and a vector of " +
                  std::to_string(config().hidden_size) + " values");
    torch::Tensor add = torch::tensor(s.add, torch::TensorOptions().device(net_.device()));
    if (unrotate_.defined()) add = unrotate_.rotate(add);
    return [add, name = "layer." + std::to_string(s.layer)](const std::string& point, const torch::Tensor& v) {
      if (point == name) v.add_(add);
    };
  }

  bool valid_point(const std::string& p) const {
    if (p.rfind("layer.", 0) != 0) return false;
    size_t used = 0;
    int64_t i = -1;
    try {
      i = std::stoll(p.substr(6), &used);
    } catch (const std::exception&) {
      return false;
    }
    const std::string rest = p.substr(6 + used);
    return i >= 0 && i < config().num_layers &&
           (rest.empty() || rest == ".attn" || rest == ".mlp" || rest == ".qkv_in" || rest == ".o_in" || rest == ".mlp_in" ||
            rest == ".down_in");
  }

  // Greedy at temperature 0; else temperature-scaled nucleus (top-p) sampling from `gen`.
  static torch::Tensor pick(const torch::Tensor& logits, const GenerateOptions& o, at::Generator& gen) {
    if (o.temperature <= 0) return logits.argmax(-1);
    // host: drawn with the CPU generator `gen`
    torch::Tensor probs = torch::softmax(logits.to(torch::kCPU) / o.temperature, -1);
    if (o.top_p < 1.0) {
      auto [sorted, order] = probs.sort(-1, true);
      const torch::Tensor before = sorted.cumsum(-1) - sorted;  // mass of the tokens ranked above
      sorted.masked_fill_(before >= o.top_p, 0);
      probs = torch::zeros_like(probs).scatter(-1, order, sorted);
    }
    return at::multinomial(probs, 1, false, gen).squeeze(1);
  }

  std::string dir_;
  ComputeDevice device_;
  std::string quant_run_;
  Llama net_;
  Tokenizer tokenizer_;
  ChatTemplate chat_;
  Unrotation unrotate_;  // of a rotated run, else undefined
};

void check_vocab(const Tokenizer& tok, const ModelConfig& config, const std::string& origin) {
  if (tok.vocab_size() > config.vocab_size)
    throw Error(origin, "tokenizer has " + std::to_string(tok.vocab_size()) + " ids but the model's vocab_size is " +
                            std::to_string(config.vocab_size));
}

// The checkpoint's decoder layers against num_hidden_layers: a config that names fewer would
// run a shallower model without a word, one that names more would fail on a missing tensor later.
void check_layer_count(const Checkpoint& weights, const ModelConfig& config, const std::string& config_path) {
  int64_t held = 0;
  const std::string prefix = "model.layers.";
  for (const std::string& name : weights.names()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t dot = name.find('.', prefix.size());
    try {
      const long long n = std::stoll(name.substr(prefix.size(), dot - prefix.size()));
      held = std::max<int64_t>(held, n >= 0 && n < (1 << 20) ? n + 1 : (1 << 20));
    } catch (const std::exception&) {
    }
  }
  if (held != config.num_layers)
    throw Error(config_path, "num_hidden_layers is " + std::to_string(config.num_layers) + " but the checkpoint holds " +
                                 std::to_string(held) + " decoder layers (model.layers.0 to model.layers." + std::to_string(held - 1) + ")");
}

// The export folder `folder` against its manifest, when it has one (see Model::load). A stamp in
// the user cache, named by the folder and the manifest's bytes, remembers a full check.
void check_manifest(const std::filesystem::path& folder, const std::string& file, bool verify) {
  namespace fs = std::filesystem;
  if (!fs::is_regular_file(folder / "manifest.json")) return;
  const Manifest m = read_manifest(folder.string());
  if (!file.empty() && std::none_of(m.files.begin(), m.files.end(), [&](const ManifestFile& f) { return f.path == file; }))
    return;  // a manifest of something else beside the file
  std::error_code ec;
  const std::string key = fs::weakly_canonical(folder, ec).string() + "\n" + sha256_file((folder / "manifest.json").string());
  const fs::path stamp = fs::path(cache_dir()) / "verified" / sha256_hex(key);
  const bool first = !fs::exists(stamp, ec);
  verify_manifest(folder.string(), m, verify || first);
  if (first) {
    try {  // a cache that cannot be written only means checking in full again next time
      create_folder(stamp.parent_path().string());
      write_atomically(stamp.string(), [&](std::ostream& out) { out << folder.string() << "\n"; });
    } catch (const Error&) {
    }
  }
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& dir, const std::string& quant_run, bool verify, ComputeDevice device,
                                   QuantExecution execution) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(dir) && fs::path(dir).extension() == ".gguf") {
    if (!quant_run.empty()) throw Error(dir, "a GGUF file is already quantized; it takes no quantization run");
    check_manifest(fs::absolute(dir).parent_path(), fs::path(dir).filename().string(), verify);
    GgufModel g = read_gguf_model(dir);
    Tokenizer tok = Tokenizer::from_json(g.tokenizer_json, dir);
    check_vocab(tok, g.config, dir);
    std::map<std::string, std::string> special;
    auto token_text = [&](const std::vector<int64_t>& ids, const char* key) {
      if (ids.empty()) return;
      if (auto text = tok.id_to_token(int32_t(ids[0]))) special[key] = *text;
    };
    token_text(g.config.bos_token_ids, "bos_token");
    token_text(g.config.eos_token_ids, "eos_token");
    ChatTemplate chat = chat_template_from_source(g.chat_template, std::move(special), dir + " (tokenizer.chat_template)");
    const ModelConfig config = g.config;
    std::map<std::string, torch::Tensor> on_device;
    for (const auto& [name, t] : g.tensors) on_device[name] = t.to(torch_device(device));
    return std::make_unique<LlamaModel>(dir, device, Llama(config, on_device), std::move(tok), std::move(chat), "", 16);
  }
  if (!fs::is_directory(dir)) throw Error(dir, "not a model folder or .gguf file");
  check_manifest(dir, "", verify);
  const std::string config_path = (fs::path(dir) / "config.json").string();
  ModelConfig config = load_config(config_path);
  auto weights = std::make_shared<const Checkpoint>(dir);
  check_layer_count(*weights, config, config_path);
  Tokenizer tok = Tokenizer::load((fs::path(dir) / "tokenizer.json").string());
  check_vocab(tok, config, (fs::path(dir) / "tokenizer.json").string());
  std::map<std::string, torch::Tensor> overrides;
  std::map<std::string, std::shared_ptr<const PackedLinear>> packed;
  int act_bits = 16, q_bits = 16, kv_bits = 16;
  torch::Tensor rotation;
  if (is_compressed_tensors(config_path)) {
    if (!quant_run.empty()) throw Error(dir, "this folder is already quantized (compressed-tensors); it takes no quantization run");
    CompressedTensors ct = read_compressed_tensors(dir, *weights, config);
    overrides = std::move(ct.dense);
    act_bits = ct.activation_bits;
  }
  if (!quant_run.empty()) {
    QuantRun run = read_quant_run_for(quant_run, dir, config.num_layers);
    if (run.untied) config.tie_word_embeddings = false;
    run.shapes = run_shapes(config);
    const bool kernels = execution == QuantExecution::Kernels;
    for (int64_t i = -1; i < run.layers; ++i)
      for (auto& [name, q] : read_quant_layer(run, i, /*dequantize=*/!kernels)) {
        if (name == kResidualRotation) continue;
        // Kernels run a decoder layer's linears; a quantized embedding or head (a mixed run's) is
        // looked up or multiplied dense.
        const QuantScheme* s = run.scheme_for(name);
        if (kernels && q.codes.defined()) {
          if (i >= 0 && s)
            if (auto p = PackedLinear::pack(q, *s, torch_device(device), run.dir + ": " + name)) {
              packed[name] = std::move(p);
              continue;
            }
          q.dequant = dequantize(q);
        }
        overrides[name] = std::move(q.dequant);
      }
    act_bits = run.scheme.a_bits;
    q_bits = run.scheme.q_bits;
    kv_bits = run.scheme.kv_bits;
    rotation = read_residual_rotation(run);
  }
  ChatTemplate chat = detect_chat_template(dir);
  return std::make_unique<LlamaModel>(dir, device,
                                      Llama(config, std::move(weights), torch_device(device), std::move(overrides), packed),
                                      std::move(tok), std::move(chat), quant_run, act_bits, rotation, q_bits, kv_bits);
}

}  // namespace sq
