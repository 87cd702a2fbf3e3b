#include "core/model/chat_template.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

std::string ChatTemplate::render(const std::string& p) const {
  switch (format) {
    case ChatFormat::Llama2:
    case ChatFormat::Mistral:
      return "<s>[INST] " + trim(p) + " [/INST]";
    case ChatFormat::Llama3:
      return "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + trim(p) +
             "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    case ChatFormat::ChatML: {
      std::string out;
      if (!system.empty()) out += "<|im_start|>system\n" + system + "<|im_end|>\n";
      return out + "<|im_start|>user\n" + p + "<|im_end|>\n<|im_start|>assistant\n";
    }
    case ChatFormat::User: {
      const size_t at = pattern.find("{prompt}");
      return pattern.substr(0, at) + p + pattern.substr(at + 8);
    }
    case ChatFormat::Raw:
      break;
  }
  return p;
}

std::string ChatTemplate::name() const {
  switch (format) {
    case ChatFormat::Llama2: return "llama-2";
    case ChatFormat::Llama3: return "llama-3";
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Mistral: return "mistral";
    case ChatFormat::User: return "user";
    case ChatFormat::Raw: break;
  }
  return "raw";
}

ChatTemplate recognise_chat_template(const std::string& j, const std::string& model_type) {
  ChatTemplate t;
  if (j.empty()) {
    if (model_type == "qwen2") {
      t.format = ChatFormat::ChatML;
      t.system = "You are a helpful assistant.";
    } else if (model_type == "mistral") {
      t.format = ChatFormat::Mistral;
    } else {
      t.warning = "no chat_template in tokenizer_config.json; prompts are used raw";
    }
    return t;
  }
  if (has(j, "<|start_header_id|>")) {
    t.format = ChatFormat::Llama3;
  } else if (has(j, "<|im_start|>")) {
    t.format = ChatFormat::ChatML;
    // Qwen2 and Qwen2.5 add a default system turn when none is given; Qwen3 does not.
    if (has(j, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."))
      t.system = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    else if (has(j, "You are a helpful assistant."))
      t.system = "You are a helpful assistant.";
  } else if (has(j, "[INST]") && has(j, "<<SYS>>")) {
    t.format = ChatFormat::Llama2;
  } else if (has(j, "[INST]")) {
    t.format = ChatFormat::Mistral;
  } else {
    t.warning = "unrecognised chat_template; prompts are used raw";
  }
  return t;
}

ChatTemplate user_chat_template(const std::string& choice) {
  ChatTemplate t;
  for (ChatFormat f : {ChatFormat::Raw, ChatFormat::Llama2, ChatFormat::Llama3, ChatFormat::ChatML, ChatFormat::Mistral}) {
    t.format = f;
    if (t.name() == choice) return t;
  }
  const size_t at = choice.find("{prompt}");
  if (at == std::string::npos || choice.find("{prompt}", at + 1) != std::string::npos)
    throw Error("chat template '" + choice +
                "' is neither a built-in format (llama-2, llama-3, chatml, mistral, raw) nor a pattern with {prompt} once");
  t.format = ChatFormat::User;
  t.pattern = choice;
  return t;
}

ChatTemplate detect_chat_template(const std::string& dir, const std::string& model_type) {
  const auto path = std::filesystem::path(dir) / "tokenizer_config.json";
  std::string jinja;
  if (std::ifstream(path)) {
    try {
      const auto j = read_json_file(path.string());
      const nlohmann::json none;
      const nlohmann::json& t = j.is_object() && j.contains("chat_template") ? j["chat_template"] : none;
      if (t.is_string()) jinja = t.get<std::string>();
      // The list form names several templates; transformers renders the one named "default".
      if (t.is_array())
        for (const auto& named : t)
          if (named.is_object() && named.value("name", "") == "default" && named.contains("template") && named["template"].is_string())
            jinja = named["template"].get<std::string>();
    } catch (const Error& e) {
      ChatTemplate t = recognise_chat_template("", model_type);
      t.warning = std::string(e.what()) + "; " + (t.format == ChatFormat::Raw ? "prompts are used raw" : "using " + t.name());
      return t;
    }
  }
  return recognise_chat_template(jinja, model_type);
}

}  // namespace sq
