#pragma once
// Chat formats for one user turn, without executing Jinja: the format is recognised from
// tokenizer_config.json's chat_template (or model_type) and rendered by built-in rules. An
// unrecognised template is reported and the prompt is used raw.
#include <string>

namespace sq {

enum class ChatFormat { Raw, Llama2, Llama3, ChatML, Mistral, User };

struct ChatTemplate {
  ChatFormat format = ChatFormat::Raw;
  std::string system;   // ChatML's default system message, when the template has one
  std::string warning;  // set when the template was not recognised
  std::string pattern;  // User: the text with "{prompt}" where the prompt goes

  // The text to tokenize without post-processing (it carries its own BOS where the format has one).
  std::string render(const std::string& user_prompt) const;
  std::string name() const;
};

// From a model folder's tokenizer_config.json and its model_type.
ChatTemplate detect_chat_template(const std::string& model_dir, const std::string& model_type);
// A user's choice: a built-in name (llama-2, llama-3, chatml, mistral, raw) or a pattern that
// holds "{prompt}" once, e.g. "<s>### User: {prompt}\n### Assistant:". Throws sq::Error otherwise.
ChatTemplate user_chat_template(const std::string& name_or_pattern);
// From a chat_template string (Jinja source) alone.
ChatTemplate recognise_chat_template(const std::string& jinja, const std::string& model_type);

}  // namespace sq
