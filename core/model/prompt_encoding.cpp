#include "core/model/prompt_encoding.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace sq {

std::vector<size_t> shortest_first(const std::vector<std::vector<int32_t>>& prompts) {
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return prompts[a].size() < prompts[b].size(); });
  return order;
}

std::vector<std::vector<size_t>> consecutive_batches(size_t n, size_t batch_size) {
  if (batch_size == 0) throw Error("a batch needs at least one prompt");
  std::vector<std::vector<size_t>> batches;
  for (size_t i = 0; i < n; ++i) {
    if (i % batch_size == 0) batches.emplace_back();
    batches.back().push_back(i);
  }
  return batches;
}

std::vector<std::vector<size_t>> length_batches(const std::vector<std::vector<int32_t>>& prompts, size_t batch_size,
                                                double padded_share) {
  if (batch_size == 0) throw Error("a batch needs at least one prompt");
  std::vector<std::vector<size_t>> batches;
  size_t real = 0;
  for (size_t i : shortest_first(prompts)) {
    const size_t n = prompts[i].size();  // the longest so far: the batch's width if it joins
    if (batches.empty() || batches.back().size() >= batch_size ||
        double(n * (batches.back().size() + 1)) > padded_share * double(real + n)) {
      batches.emplace_back();
      real = 0;
    }
    batches.back().push_back(i);
    real += n;
  }
  return batches;
}

size_t keep_last_tokens(std::vector<std::vector<int32_t>>& prompts, size_t limit) {
  size_t cut = 0;
  for (auto& p : prompts)
    if (p.size() > limit) {
      p.erase(p.begin(), p.end() - std::ptrdiff_t(limit));
      ++cut;
    }
  return cut;
}

std::vector<std::vector<int32_t>> encode_prompts(const Model& model, const std::vector<Prompt>& prompts,
                                                 const ChatSettings& chat, ChatRecord* record) {
  ChatTemplate t;
  if (chat.enabled) t = chat.format.empty() ? model.chat_template() : user_chat_template(chat.format);
  const std::string date = t.format == ChatFormat::Raw ? "" : chat_date_or_today(chat.date);
  if (t.format == ChatFormat::Raw && !chat.system.empty())
    throw Error("a system message needs a chat template, and " +
                (chat.enabled ? "the model has none (" + t.warning + ")" : std::string("chat is off (--no-chat)")));
  if (record) *record = {t.name(), chat.system, date};
  std::vector<std::vector<int32_t>> out;
  const size_t context = size_t(model.config().max_position_embeddings);
  for (const Prompt& p : prompts) {
    if (t.format == ChatFormat::Raw) {
      out.push_back(model.tokenizer().encode(p.text, true));
      continue;
    }
    const std::string text = t.render(p.text, chat.system, date);
    out.push_back(model.tokenizer().encode(text, false));
    // A template that alone fills the context is the template's fault, not the prompt's: say
    // which file it came from.
    if (out.back().size() > context && text.size() > 8 * (p.text.size() + chat.system.size()) + 4096)
      throw Error(t.origin.empty() ? model.dir() : t.origin,
                  "the chat template turns a prompt of " + std::to_string(p.text.size()) + " bytes into " +
                      std::to_string(out.back().size()) + " tokens, beyond the model's context of " + std::to_string(context));
  }
  return out;
}

}  // namespace sq
