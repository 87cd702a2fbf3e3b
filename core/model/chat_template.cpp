#include "core/model/chat_template.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_file.h"
#include "core/jinja/template.h"

namespace sq {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// The day as a struct tm at midnight, from a checked YYYY-MM-DD.
std::tm tm_of(const std::string& date) {
  std::tm t{};
  int y = 0, m = 0, d = 0;
  std::sscanf(date.c_str(), "%d-%d-%d", &y, &m, &d);
  t.tm_year = y - 1900, t.tm_mon = m - 1, t.tm_mday = d, t.tm_isdst = -1;
  std::tm copy = t;
  std::mktime(&copy);  // fills in the weekday and the day of the year
  t.tm_wday = copy.tm_wday, t.tm_yday = copy.tm_yday;
  return t;
}

jinja::Value strftime_now(const std::string& date) {
  return jinja::Value::function([date](const jinja::Args& a) {
    if (a.positional.empty() || !a.positional[0].is_string()) throw jinja::JinjaError(0, "strftime_now() takes a format string");
    std::tm t{};
    if (date.empty()) {
      const std::time_t now = std::time(nullptr);
      localtime_r(&now, &t);
    } else {
      t = tm_of(date);
    }
    const std::string& fmt = a.positional[0].str();
    if (fmt.size() > 200) throw jinja::JinjaError(0, "strftime_now() format longer than 200 characters");
    char buf[1024];
    const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &t);
    return jinja::Value(std::string(buf, n));
  });
}

std::string special_token_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

std::string describe(const jinja::JinjaError& e) {
  const std::string where = e.line() > 0 ? " (line " + std::to_string(e.line()) + ")" : "";
  if (e.unsupported()) return "uses " + e.message() + where + ", which the template renderer does not support";
  return e.message() + where;
}

}  // namespace

std::string chat_date_or_today(const std::string& date, const std::string& what) {
  if (date.empty()) {
    const std::time_t now = std::time(nullptr);
    std::tm t{};
    localtime_r(&now, &t);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &t);
    return buf;
  }
  int y = 0, m = 0, d = 0;
  char rest = 0;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (date.size() != 10 || std::sscanf(date.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &rest) != 3 || y < 1900 || m < 1 ||
      m > 12 || d < 1 || d > days[m - 1] + (m == 2 && leap(y)))
    throw Error(what + " '" + date.substr(0, 40) + "' is not a date of the form YYYY-MM-DD");
  return date;
}

std::string ChatTemplate::render(const std::string& p, const std::string& system, const std::string& date) const {
  switch (format) {
    case ChatFormat::Jinja: {
      if (!refused.empty()) throw Error(origin, refused);
      jinja::List messages;
      if (!system.empty()) messages.emplace_back(jinja::Dict{{"role", jinja::Value("system")}, {"content", jinja::Value(system)}});
      messages.emplace_back(jinja::Dict{{"role", jinja::Value("user")}, {"content", jinja::Value(p)}});
      // The variables transformers' apply_chat_template passes, for one user turn.
      jinja::Dict context = {{"messages", jinja::Value(std::move(messages))},
                             {"add_generation_prompt", jinja::Value(true)},
                             {"tools", jinja::Value::none()},
                             {"documents", jinja::Value::none()},
                             {"strftime_now", strftime_now(date)}};
      for (const auto& [k, v] : special_tokens) context.emplace_back(k, jinja::Value(v));
      try {
        return jinja->render(context);
      } catch (const jinja::JinjaError& e) {
        throw Error(origin, "chat_template: " + describe(e));
      }
    }
    case ChatFormat::Llama2: {
      const std::string sys = system.empty() ? "" : "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
      return "<s>[INST] " + trim(sys + p) + " [/INST]";
    }
    case ChatFormat::Mistral: return "<s>[INST] " + (system.empty() ? "" : system + "\n\n") + trim(p) + " [/INST]";
    case ChatFormat::Llama3: {
      std::string out = "<|begin_of_text|>";
      if (!system.empty()) out += "<|start_header_id|>system<|end_header_id|>\n\n" + trim(system) + "<|eot_id|>";
      return out + "<|start_header_id|>user<|end_header_id|>\n\n" + trim(p) +
             "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    }
    case ChatFormat::ChatML: {
      std::string out;
      if (!system.empty()) out += "<|im_start|>system\n" + system + "<|im_end|>\n";
      return out + "<|im_start|>user\n" + p + "<|im_end|>\n<|im_start|>assistant\n";
    }
    case ChatFormat::User: {
      std::string out = pattern;
      const size_t s = out.find("{system}");
      if (s != std::string::npos) out.replace(s, 8, system);
      const size_t at = out.find("{prompt}");
      return out.substr(0, at) + p + out.substr(at + 8);
    }
    case ChatFormat::Raw: break;
  }
  return p;
}

std::string ChatTemplate::name() const {
  switch (format) {
    case ChatFormat::Jinja: return "model";
    case ChatFormat::Llama2: return "llama-2";
    case ChatFormat::Llama3: return "llama-3";
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Mistral: return "mistral";
    case ChatFormat::User: return "user";
    case ChatFormat::Raw: break;
  }
  return "raw";
}

ChatTemplate chat_template_from_source(const std::string& source, std::map<std::string, std::string> special_tokens,
                                       const std::string& origin) {
  ChatTemplate t;
  t.origin = origin;
  if (source.empty()) {
    t.warning = "no chat_template in " + origin + "; prompts are used raw";
    return t;
  }
  t.format = ChatFormat::Jinja;
  t.source = source;
  t.special_tokens = std::move(special_tokens);
  try {
    t.jinja = std::make_shared<const jinja::Template>(source);
  } catch (const jinja::JinjaError& e) {
    t.refused = "chat_template: " + describe(e) + "; pass --chat-template NAME (llama-2, llama-3, chatml, mistral) or --no-chat";
  }
  return t;
}

ChatTemplate user_chat_template(const std::string& choice) {
  ChatTemplate t;
  t.origin = "--chat-template";
  for (ChatFormat f : {ChatFormat::Raw, ChatFormat::Llama2, ChatFormat::Llama3, ChatFormat::ChatML, ChatFormat::Mistral}) {
    t.format = f;
    if (t.name() == choice) return t;
  }
  const size_t at = choice.find("{prompt}");
  if (at == std::string::npos || choice.find("{prompt}", at + 1) != std::string::npos)
    throw Error("chat template '" + choice.substr(0, 200) +
                "' is neither a built-in format (llama-2, llama-3, chatml, mistral, raw) nor a pattern with {prompt} once");
  t.format = ChatFormat::User;
  t.pattern = choice;
  return t;
}

ChatTemplate detect_chat_template(const std::string& dir) {
  const auto path = std::filesystem::path(dir) / "tokenizer_config.json";
  if (!std::ifstream(path)) return chat_template_from_source("", {}, path.string());
  const auto j = read_json_file(path.string());
  if (!j.is_object()) throw Error(path.string(), "not a JSON object");
  std::string source;
  const nlohmann::json none;
  const nlohmann::json& t = j.contains("chat_template") ? j["chat_template"] : none;
  if (t.is_string()) source = t.get<std::string>();
  // The list form names several templates; transformers renders the one named "default".
  else if (t.is_array()) {
    for (const auto& named : t)
      if (named.is_object() && named.value("name", "") == "default" && named.contains("template") && named["template"].is_string())
        source = named["template"].get<std::string>();
    if (source.empty()) throw Error(path.string(), "chat_template is a list without a template named \"default\"");
  } else if (!t.is_null()) {
    throw Error(path.string(), "chat_template is neither a string nor a list of named templates");
  }
  std::map<std::string, std::string> special;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"})
    if (j.contains(key)) {
      const std::string text = special_token_text(j[key]);
      if (!text.empty()) special[key] = text;
    }
  return chat_template_from_source(source, std::move(special), path.string());
}

}  // namespace sq
