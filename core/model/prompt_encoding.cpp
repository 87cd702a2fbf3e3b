#include "core/model/prompt_encoding.h"

#include "core/error.h"

namespace sq {

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
  for (const Prompt& p : prompts)
    out.push_back(t.format == ChatFormat::Raw ? model.tokenizer().encode(p.text, true)
                                              : model.tokenizer().encode(t.render(p.text, chat.system, date), false));
  return out;
}

}  // namespace sq
