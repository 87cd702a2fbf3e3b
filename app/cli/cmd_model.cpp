// `safequant tokenize`, `logits` and `generate`: the model engine from the command line.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/gguf.h"
#include "core/model/chat_template.h"
#include "core/model/gguf_vocab.h"
#include "core/model/model.h"
#include "core/model/prompt_encoding.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"

namespace sq::cli {
namespace {

using nlohmann::json;

std::vector<int32_t> parse_tokens(const std::string& list) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string item = list.substr(at, comma - at);
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw UsageError("--tokens expects comma-separated token ids, got '" + item + "'");
    }
    at = comma + 1;
  }
  return ids;
}

std::string dump_ids(const std::vector<int32_t>& ids) { return json(ids).dump(); }

}  // namespace

int run_tokenize(const Args& a) {
  if (a.has("model") == a.has("tokenizer")) throw UsageError("give exactly one of --model and --tokenizer");
  if (a.has("text") == a.has("input")) throw UsageError("give exactly one of --text and --input");
  // A GGUF file carries its tokenizer in its metadata; a model folder in tokenizer.json.
  const std::filesystem::path model = a.has("model") ? a.get("model") : "";
  const bool gguf = a.has("model") && std::filesystem::is_regular_file(model) && model.extension() == ".gguf";
  const Tokenizer tok = gguf ? Tokenizer::from_json(tokenizer_json_from_gguf(GgufFile(model.string())), model.string())
                             : Tokenizer::load(a.has("model") ? (model / "tokenizer.json").string() : a.get("tokenizer"));
  const bool special = a.has("special");
  if (a.has("text")) {
    std::cout << dump_ids(tok.encode(a.get("text"), special)) << "\n";
    return 0;
  }
  std::ifstream in(a.get("input"), std::ios::binary);
  if (!in) throw Error(a.get("input"), "cannot open input file");
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == '"') {
      try {
        line = json::parse(line).get<std::string>();
      } catch (const json::exception&) {
        throw Error(a.get("input"), "line " + std::to_string(line_no) + " starts with '\"' but is not a JSON string");
      }
    }
    std::cout << dump_ids(tok.encode(line, special)) << "\n";
  }
  return 0;
}

int run_logits(const Args& a) {
  const auto tokens = parse_tokens(a.required("tokens"));
  sq::start_thread_fitting();
  const auto model = Model::load(a.required("model"), a.get("quant"), a.has("verify"), device_arg(a), execution_arg(a));
  const json out = {{"tokens", tokens}, {"logits", model->logits(tokens)}};
  if (a.has("out")) {
    write_atomically(a.get("out"), [&](std::ostream& o) { o << out.dump() << "\n"; });
  } else {
    std::cout << out.dump() << "\n";
  }
  return 0;
}

int run_generate(const Args& a) {
  if (a.has("prompt") == a.has("tokens")) throw UsageError("give exactly one of --prompt and --tokens");
  GenerateOptions o;
  o.max_new_tokens = a.get_int("max-new", 64);
  if (o.max_new_tokens < 0) throw UsageError("--max-new must be 0 or more");
  sq::start_thread_fitting();
  const auto model = Model::load(a.required("model"), a.get("quant"), a.has("verify"), device_arg(a), execution_arg(a));
  const ChatSettings chat = chat_arg(a, /*chat_by_default=*/false);
  std::vector<int32_t> prompt;
  if (a.has("tokens")) {
    if (chat.enabled) throw UsageError("--chat wraps a text prompt; it does not go with --tokens");
    prompt = parse_tokens(a.get("tokens"));
  } else {
    if (chat.enabled && chat.format.empty() && !model->chat_template().warning.empty())
      std::cerr << "safequant generate: warning: " << model->chat_template().warning << "\n";
    Prompt p;
    p.id = "prompt";
    p.text = a.get("prompt");
    prompt = encode_prompts(*model, {p}, chat).front();
  }
  if (prompt.empty()) throw UsageError("the prompt is empty");
  const auto tokens = model->generate({prompt}, o).front();
  const std::string text = model->tokenizer().decode(tokens, true);
  if (a.has("json"))
    std::cout << json{{"prompt_tokens", prompt}, {"tokens", tokens}, {"text", text}}.dump() << "\n";
  else
    std::cout << text << "\n";
  return 0;
}

}  // namespace sq::cli
