#include "core/model/model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/model/llama.h"

namespace sq {
namespace {

class LlamaModel final : public Model {
 public:
  LlamaModel(std::string dir, ModelConfig config, std::shared_ptr<const Checkpoint> weights, Tokenizer tokenizer)
      : dir_(std::move(dir)), net_(std::move(config), std::move(weights)), tokenizer_(std::move(tokenizer)) {}

  const ModelConfig& config() const override { return net_.config(); }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  const std::string& dir() const override { return dir_; }

  std::vector<std::vector<float>> logits(const std::vector<int32_t>& tokens) const override {
    if (tokens.empty()) throw Error("no tokens to run");
    const torch::Tensor t = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), torch::kInt64).unsqueeze(0);
    const torch::Tensor out = net_.forward(t, {}, nullptr).squeeze(0).contiguous();
    std::vector<std::vector<float>> rows(static_cast<size_t>(out.size(0)));
    for (int64_t i = 0; i < out.size(0); ++i) {
      const float* p = out[i].data_ptr<float>();
      rows[static_cast<size_t>(i)].assign(p, p + out.size(1));
    }
    return rows;
  }

  std::vector<std::vector<int32_t>> generate(const std::vector<std::vector<int32_t>>& prompts,
                                             const GenerateOptions& o) const override {
    const int64_t B = static_cast<int64_t>(prompts.size());
    std::vector<std::vector<int32_t>> out(prompts.size());
    if (B == 0 || o.max_new_tokens <= 0) return out;
    size_t longest = 0;
    for (const auto& p : prompts) {
      if (p.empty()) throw Error("an empty prompt cannot be continued");
      longest = std::max(longest, p.size());
    }
    // Left padding: every prompt ends at the same column, so one new column serves all.
    const int64_t pad = config().eos_token_ids.empty() ? 0 : config().eos_token_ids[0];
    torch::Tensor tokens = torch::full({B, int64_t(longest)}, pad, torch::kInt64);
    torch::Tensor mask = torch::zeros({B, int64_t(longest)}, torch::kInt64);
    for (int64_t b = 0; b < B; ++b) {
      const auto& p = prompts[static_cast<size_t>(b)];
      const int64_t off = int64_t(longest - p.size());
      for (size_t j = 0; j < p.size(); ++j) tokens[b][off + int64_t(j)] = p[j];
      mask[b].narrow(0, off, int64_t(p.size())).fill_(1);
    }
    const std::set<int64_t> eos(config().eos_token_ids.begin(), config().eos_token_ids.end());
    auto gen = at::detail::createCPUGenerator(o.seed);
    std::vector<bool> done(prompts.size(), false);
    KVCache cache;
    torch::Tensor step = tokens;
    for (int n = 0; n < o.max_new_tokens; ++n) {
      const torch::Tensor logits = net_.forward(step, mask, &cache).select(1, -1);  // [B, V]
      const torch::Tensor next = pick(logits, o, gen);
      bool all_done = true;
      for (int64_t b = 0; b < B; ++b) {
        if (done[size_t(b)]) continue;
        const int64_t id = next[b].item<int64_t>();
        if (o.stop_at_eos && eos.count(id)) {
          done[size_t(b)] = true;
          continue;
        }
        out[size_t(b)].push_back(int32_t(id));
        all_done = false;
      }
      if (all_done) break;
      step = next.unsqueeze(1);
      mask = torch::cat({mask, torch::ones({B, 1}, torch::kInt64)}, 1);
    }
    return out;
  }

 private:
  // Greedy at temperature 0; else temperature-scaled nucleus (top-p) sampling from `gen`.
  static torch::Tensor pick(const torch::Tensor& logits, const GenerateOptions& o, at::Generator& gen) {
    if (o.temperature <= 0) return logits.argmax(-1);
    torch::Tensor probs = torch::softmax(logits / o.temperature, -1);
    if (o.top_p < 1.0) {
      auto [sorted, order] = probs.sort(-1, true);
      const torch::Tensor before = sorted.cumsum(-1) - sorted;  // mass of the tokens ranked above
      sorted.masked_fill_(before >= o.top_p, 0);
      probs = torch::zeros_like(probs).scatter(-1, order, sorted);
    }
    return at::multinomial(probs, 1, false, gen).squeeze(1);
  }

  std::string dir_;
  Llama net_;
  Tokenizer tokenizer_;
};

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw Error(dir, "not a model folder");
  ModelConfig config = load_config((fs::path(dir) / "config.json").string());
  auto weights = std::make_shared<const Checkpoint>(dir);
  Tokenizer tok = Tokenizer::load((fs::path(dir) / "tokenizer.json").string());
  if (tok.vocab_size() > config.vocab_size)
    throw Error((fs::path(dir) / "tokenizer.json").string(),
                "tokenizer has " + std::to_string(tok.vocab_size()) + " ids but config.json vocab_size is " +
                    std::to_string(config.vocab_size));
  return std::make_unique<LlamaModel>(dir, std::move(config), std::move(weights), std::move(tok));
}

}  // namespace sq
