#include "core/model/prompt_encoding.h"

#include "core/model/chat_template.h"

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

std::vector<std::vector<int32_t>> encode_prompts(const Model& model, const std::vector<Prompt>& prompts, bool chat,
                                                 std::string* template_name) {
  ChatTemplate t;
  if (chat) t = model.chat_template();
  if (template_name) *template_name = t.name();
  std::vector<std::vector<int32_t>> out;
  for (const Prompt& p : prompts)
    out.push_back(t.format == ChatFormat::Raw ? model.tokenizer().encode(p.text, true)
                                              : model.tokenizer().encode(t.render(p.text), false));
  return out;
}

}  // namespace sq
