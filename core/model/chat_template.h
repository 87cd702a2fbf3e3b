#pragma once
// Chat prompts for one user turn, as transformers' apply_chat_template renders them: the model's
// own chat_template (tokenizer_config.json, or a GGUF's tokenizer.chat_template) runs in the
// Jinja renderer of core/jinja with the model's special tokens, `add_generation_prompt` on, and
// strftime_now reading a date the caller can pin. A template using a feature the renderer lacks
// is refused with the feature and the line. The built-in formats are only a user's explicit
// choice (--chat-template NAME).
#include <map>
#include <memory>
#include <string>

namespace sq {

namespace jinja {
class Template;
}

// What a prompt is rendered with besides its text. One struct for the CLI, run configs and the
// studio.
struct ChatSettings {
  bool enabled = true;   // false: prompts are used raw (--no-chat)
  std::string system;    // the system message; empty: none, and the template's default applies
  std::string date;      // YYYY-MM-DD that strftime_now reads; empty: today (local time, as transformers)
  std::string format;    // a built-in format or a pattern instead of the model's (--chat-template)
};

// A YYYY-MM-DD date, checked (throws sq::Error naming `what` otherwise); empty gives today.
std::string chat_date_or_today(const std::string& date, const std::string& what = "--chat-date");

enum class ChatFormat { Raw, Jinja, Llama2, Llama3, ChatML, Mistral, User };

struct ChatTemplate {
  ChatFormat format = ChatFormat::Raw;
  std::string origin;   // the file the template came from, for messages
  std::string warning;  // set when the model has no template and prompts are used raw
  std::string refused;  // set when the model's template cannot be rendered: why, with the line
  std::string pattern;  // User: the text with "{prompt}" where the prompt goes
  std::string source;   // Jinja: the template's text as read
  std::shared_ptr<const jinja::Template> jinja;
  std::map<std::string, std::string> special_tokens;  // bos_token, eos_token, ... as transformers passes them

  // The text to tokenize without post-processing (it carries its own BOS where the format has
  // one). `date` is a YYYY-MM-DD for strftime_now (empty: today). Throws sq::Error naming the
  // origin when the template is refused or raises.
  std::string render(const std::string& user_prompt, const std::string& system = "", const std::string& date = "") const;
  std::string name() const;
};

// From a model folder's tokenizer_config.json.
ChatTemplate detect_chat_template(const std::string& model_dir);
// From a chat_template string (Jinja source) and the special tokens that go with it; `origin`
// names where it came from. An empty source gives the raw format with a warning.
ChatTemplate chat_template_from_source(const std::string& jinja, std::map<std::string, std::string> special_tokens,
                                       const std::string& origin);
// A user's choice: a built-in name (llama-2, llama-3, chatml, mistral, raw) or a pattern that
// holds "{prompt}" once, e.g. "<s>### User: {prompt}\n### Assistant:". Throws sq::Error otherwise.
ChatTemplate user_chat_template(const std::string& name_or_pattern);

}  // namespace sq
