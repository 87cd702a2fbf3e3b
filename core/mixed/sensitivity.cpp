#include "core/mixed/sensitivity.h"

#include <torch/torch.h>

#include <chrono>
#include <map>

#include "core/data/calibration.h"
#include "core/eval/refusal.h"
#include "core/io/safetensors.h"
#include "core/model/llama.h"
#include "core/model/model.h"
#include "core/model/model_size.h"
#include "core/model/prompt_encoding.h"
#include "core/quantized/fake_quant_ops.h"
#include "core/quantized/scheme.h"
#include "core/run/system_info.h"
#include "core/run/torch_device.h"

namespace sq {
namespace {

std::vector<SensitivityUnit> model_units(const ModelConfig& c, bool embeddings) {
  std::vector<SensitivityUnit> units;
  const auto numel = [&](const std::vector<std::string>& names) {
    int64_t n = 0;
    for (const ParamSpec& s : parameter_specs(c))
      for (const std::string& name : names)
        if (s.name == name) n += s.shape[0] * s.shape[1];
    return n;
  };
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const std::vector<std::pair<UnitGroup, std::vector<std::string>>> groups = {
        {UnitGroup::Qkv, {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"}},
        {UnitGroup::O, {p + "self_attn.o_proj.weight"}},
        {UnitGroup::GateUp, {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}},
        {UnitGroup::Down, {p + "mlp.down_proj.weight"}}};
    for (const auto& [g, names] : groups) units.push_back({i, g, names, numel(names)});
  }
  if (embeddings) {
    units.push_back({-1, UnitGroup::Embedding, {"model.embed_tokens.weight"}, numel({"model.embed_tokens.weight"})});
    if (!c.tie_word_embeddings) units.push_back({-1, UnitGroup::Head, {"lm_head.weight"}, numel({"lm_head.weight"})});
  }
  return units;
}

// Where each prompt's reply is scored in its left-padded batch: the positions whose next token is
// a reply token, and those tokens.
struct ReplyPositions {
  torch::Tensor rows, cols, targets;  // [n] each, int64
  std::vector<size_t> prompt;         // [n]: the prompt a position belongs to
};

// Per variant and prompt: the summed KL over its reply positions, how many there are, and the
// summed change of the reply tokens' log-probabilities.
struct PromptSums {
  std::vector<double> kl, positions, logprob_change;
};


// The comparison every variant is measured by: the draw, the full-precision model's own replies
// to it, every layer's input kept, and the replies' log-probabilities in full precision.
class ReplyComparison {
 public:
  ReplyComparison(const std::string& model_dir, const SensitivityOptions& o, SensitivityTable& table)
      : model_(Model::load(model_dir, "", false, o.device)), c_(model_->config()), dev_(torch_device(o.device)) {
    if (o.response_tokens < 1) throw Error("at least one response token must be compared");
    if (o.batch_size < 1) throw Error("batch size must be at least 1");
    table.model = model_dir;
    table.options = o.options;
    table.units = model_units(c_, o.embeddings);
    table.response_tokens = o.response_tokens;
    table.cpu = system_info().cpu;

    // The prompts and the model's own full-precision replies to them.
    CalibrationDraw draw = draw_calibration(o.prompts, o.samples, o.ratio, o.seed);
    std::vector<std::vector<int32_t>> prompts = encode_prompts(*model_, draw.prompts, o.chat);
    // The reply must fit the context after the prompt, whose last tokens (the request's end and
    // the assistant header) are kept.
    const int64_t room = c_.max_position_embeddings - o.response_tokens;
    if (room < 1) throw Error(model_dir, std::to_string(o.response_tokens) + " reply tokens do not fit the model's context");
    keep_last_tokens(prompts, size_t(std::min<int64_t>(o.seq_len, room)));
    o.progress.step(0, -1, "full-precision replies");
    GenerateOptions g;
    g.max_new_tokens = o.response_tokens;
    const std::vector<std::vector<int32_t>> replies = model_->generate(prompts, g);
    const RefusalMatcher refusals = RefusalMatcher::shipped_default();
    std::vector<std::vector<int32_t>> sequences;
    for (size_t r = 0; r < prompts.size(); ++r) {
      malicious_.push_back(draw.prompts[r].label == 1);
      refused_.push_back(malicious_.back() && refusals.match(model_->tokenizer().decode(replies[r], true)).has_value());
      table.malicious += malicious_.back() ? 1 : 0;
      table.benign += malicious_.back() ? 0 : 1;
      table.refused += refused_.back() ? 1 : 0;
      sequences.push_back(prompts[r]);
      sequences.back().insert(sequences.back().end(), replies[r].begin(), replies[r].end());
    }
    if (table.malicious == 0 || table.benign == 0)
      throw Error("the draw holds " + std::to_string(table.malicious) + " malicious and " + std::to_string(table.benign) +
                  " benign prompts; sensitivity needs both (--data with labelled prompts, --ratio between 0 and 1)");
    refused_count_ = table.refused;
    std::string from;
    for (const Stratum& st : draw.composition) from += (from.empty() ? "" : ", ") + st.source + " " + std::to_string(st.drawn);
    table.prompts_from = from;

    const std::vector<std::vector<size_t>> groups = consecutive_batches(sequences.size(), size_t(o.batch_size));
    batches_ = Llama::left_padded(sequences, groups, dev_);
    for (size_t b = 0; b < groups.size(); ++b) {
      const int64_t width = batches_[b].tokens.size(1);
      std::vector<int64_t> rows, cols, targets;
      ReplyPositions p;
      for (size_t r = 0; r < groups[b].size(); ++r) {
        const size_t i = groups[b][r];
        const int64_t k = int64_t(replies[i].size());
        for (int64_t j = 0; j < k; ++j) {
          rows.push_back(int64_t(r));
          cols.push_back(width - k - 1 + j);  // the position before reply token j
          targets.push_back(replies[i][size_t(j)]);
          p.prompt.push_back(i);
        }
      }
      const auto ints = torch::TensorOptions(torch::kInt64).device(dev_);
      p.rows = torch::tensor(rows, ints), p.cols = torch::tensor(cols, ints), p.targets = torch::tensor(targets, ints);
      where_.push_back(std::move(p));
    }

    // Full precision, once: every layer's input kept, and the reply positions' log-probabilities.
    torch::NoGradGuard no_grad;
    weights_ = std::make_shared<const Checkpoint>(model_dir);
    const Llama fp(c_, weights_, dev_);
    states_ = fp.embed(batches_);
    layer_inputs_.resize(size_t(c_.num_layers));
    for (int64_t i = 0; i < c_.num_layers; ++i) {
      for (const Llama::State& st : states_) layer_inputs_[size_t(i)].push_back(st.x);
      fp.run_block(i, states_, nullptr);
      o.progress.step(i + 1, c_.num_layers, "full precision");
    }
    for (size_t b = 0; b < batches_.size(); ++b) fp_logp_.push_back(reply_logprobs(fp, states_, b));
  }

  const std::shared_ptr<const Checkpoint>& weights() const { return weights_; }
  torch::Device device() const { return dev_; }
  int64_t layers() const { return c_.num_layers; }

  // One variant: the model with `overrides`, run from layer `from` (-1: from the embedding;
  // num_layers: the head alone) on the kept inputs; its cell but for the bytes.
  SensitivityCell measure(const std::map<std::string, torch::Tensor>& overrides, int64_t from) const {
    torch::NoGradGuard no_grad;
    const Llama q(c_, weights_, dev_, overrides);
    std::vector<Llama::State> st;
    if (from < 0) {
      st = q.embed(batches_);
    } else {
      st = states_;  // rotary tables and masks; the residual stream is set below
      for (size_t b = 0; b < st.size(); ++b) st[b].x = from < c_.num_layers ? layer_inputs_[size_t(from)][b] : states_[b].x;
    }
    for (int64_t i = std::max<int64_t>(from, 0); i < c_.num_layers; ++i) q.run_block(i, st, nullptr);
    const size_t n_prompts = malicious_.size();
    PromptSums sums{std::vector<double>(n_prompts), std::vector<double>(n_prompts), std::vector<double>(n_prompts)};
    for (size_t b = 0; b < batches_.size(); ++b) {
      if (where_[b].prompt.empty()) continue;
      const torch::Tensor lq = reply_logprobs(q, st, b), lp = fp_logp_[b];
      const torch::Tensor kl = (lp.exp() * (lp - lq)).sum(-1).to(torch::kCPU, torch::kFloat64);  // host: summed per prompt
      const torch::Tensor change = (lq - lp).gather(1, where_[b].targets.unsqueeze(1)).squeeze(1).to(torch::kCPU, torch::kFloat64);  // host: as above
      const double* k = kl.data_ptr<double>();
      const double* d = change.data_ptr<double>();
      for (size_t n = 0; n < where_[b].prompt.size(); ++n) {
        const size_t i = where_[b].prompt[n];
        sums.kl[i] += k[n], sums.positions[i] += 1, sums.logprob_change[i] += d[n];
      }
    }
    double mal_kl = 0, mal_n = 0, ben_kl = 0, ben_n = 0, change = 0;
    for (size_t i = 0; i < n_prompts; ++i) {
      (malicious_[i] ? mal_kl : ben_kl) += sums.kl[i];
      (malicious_[i] ? mal_n : ben_n) += sums.positions[i];
      if (refused_[i]) change += sums.logprob_change[i];
    }
    SensitivityCell cell;
    cell.safety_kl = mal_n > 0 ? mal_kl / mal_n : 0;
    cell.utility_kl = ben_n > 0 ? ben_kl / ben_n : 0;
    cell.refusal_change = refused_count_ > 0 ? change / refused_count_ : 0;
    return cell;
  }

 private:
  torch::Tensor reply_logprobs(const Llama& m, const std::vector<Llama::State>& st, size_t b) const {
    const torch::Tensor h = st[b].x.index({where_[b].rows, where_[b].cols});  // [n, hidden]
    return torch::log_softmax(m.logits(h.unsqueeze(0)).squeeze(0), -1);     // [n, vocab]
  }

  std::unique_ptr<Model> model_;
  ModelConfig c_;
  torch::Device dev_;
  std::vector<bool> malicious_, refused_;
  int refused_count_ = 0;
  std::vector<Llama::Batch> batches_;
  std::vector<ReplyPositions> where_;
  std::shared_ptr<const Checkpoint> weights_;
  std::vector<Llama::State> states_;
  std::vector<std::vector<torch::Tensor>> layer_inputs_;
  std::vector<torch::Tensor> fp_logp_;
};

std::vector<QuantScheme> weight_options(const std::vector<std::string>& options) {
  if (options.empty()) throw Error("no weight options given to measure");
  std::vector<QuantScheme> schemes;
  for (const std::string& name : options) {
    QuantScheme s = parse_scheme(name);
    if (!s.weight_only())
      throw Error("sensitivity compares weight options; '" + name + "' quantizes activations (use w<bits>a16 schemes or gguf types)");
    schemes.push_back(s);
  }
  return schemes;
}

// A unit's weights at one option: their dequantized values, and the bytes they take deployed.
double quantize_unit(const SensitivityUnit& u, const QuantScheme& s, const std::string& option, const Checkpoint& weights,
                     torch::Device dev, std::map<std::string, torch::Tensor>& overrides) {
  double bytes = 0;
  for (const std::string& name : u.params) {
    const torch::Tensor w = as_tensor(weights.tensor(name)).to(dev, torch::kFloat32);
    try {
      overrides[name] = quantize_weight(w, s).dequant;
    } catch (const Error& e) {
      throw Error("'" + name + "' at " + option + ": " + e.what());
    }
    bytes += quantized_weight_bytes(s, w.size(0), w.size(1));
  }
  return bytes;
}

}  // namespace

SensitivityTable measure_sensitivity(const std::string& model_dir, const SensitivityOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<QuantScheme> schemes = weight_options(o.options);
  SensitivityTable table;
  const ReplyComparison compare(model_dir, o, table);
  const int64_t total = int64_t(table.units.size() * schemes.size());
  int64_t done = 0;
  for (const SensitivityUnit& u : table.units) {
    std::vector<SensitivityCell> cells;
    for (size_t k = 0; k < schemes.size(); ++k) {
      o.progress.step(done, total, u.name() + " at " + o.options[k]);
      std::map<std::string, torch::Tensor> overrides;
      const double bytes = quantize_unit(u, schemes[k], o.options[k], *compare.weights(), compare.device(), overrides);
      const int64_t from = u.group == UnitGroup::Embedding ? -1 : u.group == UnitGroup::Head ? compare.layers() : u.layer;
      SensitivityCell cell = compare.measure(overrides, from);
      cell.bytes = bytes;
      cells.push_back(cell);
      ++done;
    }
    table.cells.push_back(std::move(cells));
  }
  o.progress.step(total, total, "done");
  table.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return table;
}

std::vector<SensitivityCell> measure_allocations(const std::string& model_dir, const SensitivityOptions& o,
                                                 const std::vector<std::vector<size_t>>& choices) {
  const std::vector<QuantScheme> schemes = weight_options(o.options);
  SensitivityTable table;
  const ReplyComparison compare(model_dir, o, table);
  std::vector<SensitivityCell> out;
  for (size_t a = 0; a < choices.size(); ++a) {
    if (choices[a].size() != table.units.size())
      throw Error("allocation " + std::to_string(a) + " chooses for " + std::to_string(choices[a].size()) + " units; the model has " +
                  std::to_string(table.units.size()));
    o.progress.step(int64_t(a), int64_t(choices.size()), "allocations");
    std::map<std::string, torch::Tensor> overrides;
    double bytes = 0;
    for (size_t u = 0; u < table.units.size(); ++u) {
      const size_t k = choices[a][u];
      if (k >= schemes.size()) throw Error("allocation " + std::to_string(a) + " names option " + std::to_string(k) + " of " + std::to_string(schemes.size()));
      bytes += quantize_unit(table.units[u], schemes[k], o.options[k], *compare.weights(), compare.device(), overrides);
    }
    SensitivityCell cell = compare.measure(overrides, -1);
    cell.bytes = bytes;
    out.push_back(cell);
  }
  o.progress.step(int64_t(choices.size()), int64_t(choices.size()), "allocations");
  return out;
}

}  // namespace sq
