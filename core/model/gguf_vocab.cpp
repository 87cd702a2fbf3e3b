#include "core/model/gguf_vocab.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

using json = nlohmann::json;

// The split regexes of the tokenizers llama.cpp knows by name (its pre-tokenizer types).
const std::vector<std::pair<std::string, std::string>>& known_splits() {
  static const std::vector<std::pair<std::string, std::string>> k = {
      {"llama-bpe",
       R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
      {"qwen2",
       R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}};
  return k;
}

enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

bool is_byte_token(const std::string& t) { return t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>'; }

// LLaMA / Mistral tokenizers converted from SentencePiece: BPE with byte fallback, spaces turned
// into U+2581 and one prepended by the normalizer, no pre-tokenizer.
bool is_sentencepiece_style(const json& tok) {
  if (!tok.at("model").value("byte_fallback", false)) return false;
  if (tok.contains("pre_tokenizer") && !tok["pre_tokenizer"].is_null()) return false;
  const json& n = tok.value("normalizer", json());
  if (!n.is_object() || n.value("type", "") != "Sequence") return false;
  bool prepend = false, replace = false;
  for (const auto& step : n.at("normalizers")) {
    prepend = prepend || (step.value("type", "") == "Prepend" && step.value("prepend", "") == "\xE2\x96\x81");
    replace = replace || (step.value("type", "") == "Replace" && step.at("pattern").value("String", "") == " " &&
                          step.value("content", "") == "\xE2\x96\x81");
  }
  return prepend && replace;
}

// llama.cpp's pre-tokenizer name for a byte-level tokenizer.json, or empty when unknown.
std::string pre_tokenizer_name(const json& pre) {
  if (pre.value("type", "") == "ByteLevel") return pre.value("use_regex", true) ? "gpt-2" : "";
  if (pre.value("type", "") != "Sequence") return "";
  const auto& items = pre.at("pretokenizers");
  if (items.size() != 2 || items[0].value("type", "") != "Split" || items[1].value("type", "") != "ByteLevel" ||
      items[1].value("use_regex", true))
    return "";
  const std::string regex = items[0].at("pattern").value("Regex", "");
  for (const auto& [name, r] : known_splits())
    if (r == regex) return name;
  return "";
}

std::string token_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.value("content", ""); }

// The tokenizer.json of a LLaMA / Mistral style vocabulary written by gguf_vocab_metadata: the
// BPE model needs the merges, which this project keeps in the file beside the scores.
std::string sentencepiece_json_from_gguf(const GgufFile& g) {
  const auto& tokens = g.at("tokenizer.ggml.tokens").strings;
  const GgufValue& types = g.at("tokenizer.ggml.token_type");
  const GgufValue* merges = g.find("tokenizer.ggml.merges");
  if (!merges) throw Error(g.path(), "a SentencePiece vocabulary without tokenizer.ggml.merges cannot be rebuilt as BPE");
  if (types.ints.size() != tokens.size()) throw Error(g.path(), "tokenizer.ggml.token_type does not match the tokens");
  json vocab = json::object(), added = json::array();
  std::string unk = "<unk>", bos;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t t = types.ints[i];
    vocab[tokens[i]] = i;
    if (t == kUnknown) unk = tokens[i];
    if (t == kUnknown || t == kControl || t == kUserDefined)
      added.push_back({{"id", i}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", t == kUserDefined}, {"special", t != kUserDefined}});
  }
  json post = nullptr;
  const GgufValue* add_bos = g.find("tokenizer.ggml.add_bos_token");
  const GgufValue* bos_id = g.find("tokenizer.ggml.bos_token_id");
  if ((!add_bos || add_bos->as_bool()) && bos_id && bos_id->as_int() >= 0 && size_t(bos_id->as_int()) < tokens.size()) {
    const std::string b = tokens[size_t(bos_id->as_int())];
    post = {{"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair", {{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                      {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
            {"special_tokens", {{b, {{"id", b}, {"ids", {bos_id->as_int()}}, {"tokens", {b}}}}}}};
  }
  const std::string space = "\xE2\x96\x81";
  return json{{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
              {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", space}},
                                                                    {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}}},
              {"pre_tokenizer", nullptr}, {"post_processor", post},
              {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                                                                {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                                                                {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
              {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", unk}, {"continuing_subword_prefix", nullptr},
                         {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                         {"vocab", vocab}, {"merges", merges->strings}}}}
      .dump();
}

}  // namespace

GgufMetadata gguf_vocab_metadata(const std::string& model_dir, const ModelConfig& config) {
  namespace fs = std::filesystem;
  const fs::path tok_path = fs::path(model_dir) / "tokenizer.json";
  const json tok = read_json_file(tok_path.string());
  const json& model = tok.at("model");
  const bool spm = is_sentencepiece_style(tok);
  const bool byte_level = tok.contains("pre_tokenizer") && !tok["pre_tokenizer"].is_null();
  if (model.value("type", "") != "BPE" || (!spm && !byte_level))
    throw Error(tok_path.string(), "only BPE tokenizers, byte-level (GPT-2 style) or SentencePiece-style with byte fallback "
                                   "(LLaMA / Mistral), can be written to GGUF");
  const std::string pre = spm ? "" : pre_tokenizer_name(tok["pre_tokenizer"]);
  if (!spm && pre.empty())
    throw Error(tok_path.string(), "its pre-tokenizer is not one llama.cpp knows by name (GPT-2, Llama-3 or Qwen2 "
                                   "splitting); a GGUF would tokenize differently, so none is written");
  // Qwen2's NFC is the one normalizer llama.cpp's byte-level vocabularies imply (it does not
  // normalize; NFC only changes text that is not NFC already).
  if (!spm && tok.contains("normalizer") && !tok["normalizer"].is_null() && tok["normalizer"].value("type", "") != "NFC")
    throw Error(tok_path.string(), "normalizer '" + tok["normalizer"].value("type", "") + "' before byte-level BPE has no GGUF equivalent");

  const int64_t n = config.vocab_size;
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int32_t> types(size_t(n), kUnused);
  for (int64_t i = 0; i < n; ++i) tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
  auto place = [&](int64_t id, const std::string& text, int32_t type) {
    if (id < 0 || id >= n)
      throw Error(tok_path.string(), "token id " + std::to_string(id) + " is outside config.json's vocab_size " + std::to_string(n));
    tokens[size_t(id)] = text;
    types[size_t(id)] = type;
  };
  for (const auto& [text, id] : model.at("vocab").items()) place(id.get<int64_t>(), text, spm && is_byte_token(text) ? kByte : kNormal);
  const std::string unk = model.contains("unk_token") && model["unk_token"].is_string() ? model["unk_token"].get<std::string>() : "";
  for (const auto& a : tok.value("added_tokens", json::array()))
    place(a.at("id").get<int64_t>(), a.at("content").get<std::string>(),
          !unk.empty() && a.at("content") == unk ? kUnknown : a.value("special", false) ? kControl : kUserDefined);

  std::vector<std::string> merges;
  for (const auto& m : model.at("merges"))
    merges.push_back(m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());

  GgufMetadata md = {{"tokenizer.ggml.model", GgufValue::string(spm ? "llama" : "gpt2")},
                     {"tokenizer.ggml.pre", GgufValue::string(spm ? "default" : pre)},
                     {"tokenizer.ggml.tokens", GgufValue::strings_array(tokens)},
                     {"tokenizer.ggml.token_type", GgufValue::i32_array(types)},
                     {"tokenizer.ggml.merges", GgufValue::strings_array(merges)}};
  if (spm) {
    // llama.cpp's SentencePiece tokenizer merges the adjacent pair whose result scores highest;
    // scoring each token by minus the rank of the first merge that makes it reproduces the BPE
    // merge order. The merges stay in the file too, for readers that rebuild the BPE model.
    std::vector<float> scores(tokens.size(), 0.f);
    std::map<std::string, size_t> id_of_text;
    for (size_t i = 0; i < tokens.size(); ++i) id_of_text.emplace(tokens[i], i);
    std::vector<bool> scored(tokens.size(), false);
    for (size_t r = 0; r < merges.size(); ++r) {
      const size_t space = merges[r].find(' ');
      auto it = id_of_text.find(merges[r].substr(0, space) + merges[r].substr(space + 1));
      if (it != id_of_text.end() && !scored[it->second]) scores[it->second] = -float(r + 1), scored[it->second] = true;
    }
    md.push_back({"tokenizer.ggml.scores", GgufValue::f32_array(scores)});
    md.push_back({"tokenizer.ggml.add_space_prefix", GgufValue::boolean(true)});
    for (size_t i = 0; i < tokens.size() && !unk.empty(); ++i)
      if (tokens[i] == unk) md.push_back({"tokenizer.ggml.unknown_token_id", GgufValue::u32(uint32_t(i))});
  }

  const fs::path cfg_path = fs::path(model_dir) / "tokenizer_config.json";
  const json cfg = fs::exists(cfg_path) ? read_json_file(cfg_path.string()) : json::object();
  auto id_of = [&](const std::string& key) -> int64_t {
    if (!cfg.contains(key) || cfg[key].is_null()) return -1;
    const std::string text = token_text(cfg[key]);
    for (int64_t i = 0; i < n; ++i)
      if (tokens[size_t(i)] == text) return i;
    return -1;
  };
  int64_t bos = config.bos_token_ids.empty() ? id_of("bos_token") : config.bos_token_ids[0];
  int64_t eos = config.eos_token_ids.empty() ? id_of("eos_token") : config.eos_token_ids[0];
  const int64_t pad = id_of("pad_token");
  if (bos >= 0) md.push_back({"tokenizer.ggml.bos_token_id", GgufValue::u32(uint32_t(bos))});
  if (eos >= 0) md.push_back({"tokenizer.ggml.eos_token_id", GgufValue::u32(uint32_t(eos))});
  if (pad >= 0) md.push_back({"tokenizer.ggml.padding_token_id", GgufValue::u32(uint32_t(pad))});
  // BOS is added when the tokenizer's post-processor adds a special token before the text.
  bool add_bos = false;
  const json& post = tok.value("post_processor", json());
  auto template_adds = [&](const json& p) {
    return p.value("type", "") == "TemplateProcessing" && !p.at("single").empty() && p["single"][0].contains("SpecialToken");
  };
  if (post.is_object()) {
    add_bos = template_adds(post);
    if (post.value("type", "") == "Sequence")
      for (const auto& p : post.at("processors")) add_bos = add_bos || template_adds(p);
  }
  md.push_back({"tokenizer.ggml.add_bos_token", GgufValue::boolean(add_bos)});
  md.push_back({"tokenizer.ggml.add_eos_token", GgufValue::boolean(false)});
  if (cfg.contains("chat_template") && cfg["chat_template"].is_string())
    md.push_back({"tokenizer.chat_template", GgufValue::string(cfg["chat_template"].get<std::string>())});
  return md;
}

std::string rebuilt_tokenizer_json(const GgufFile& g);

std::string tokenizer_json_from_gguf(const GgufFile& g) {
  try {
    return rebuilt_tokenizer_json(g);
  } catch (const json::exception& e) {
    // A token or merge that is not UTF-8 text, or a value of the wrong kind.
    throw Error(g.path(), "tokenizer.ggml.* cannot be rebuilt as a tokenizer: " + json_error_text(e));
  }
}

std::string rebuilt_tokenizer_json(const GgufFile& g) {
  const std::string kind = g.at("tokenizer.ggml.model").as_string();
  if (kind != "gpt2" && kind != "llama")
    throw Error(g.path(), "tokenizer model " + quote_value(kind) + " is not supported (gpt2 byte-level BPE, llama SentencePiece-style BPE)");
  if (kind == "llama") return sentencepiece_json_from_gguf(g);
  const std::string pre = g.find("tokenizer.ggml.pre") ? g.at("tokenizer.ggml.pre").as_string() : "gpt-2";
  const auto& tokens = g.at("tokenizer.ggml.tokens").strings;
  const GgufValue& types = g.at("tokenizer.ggml.token_type");
  if (types.ints.size() != tokens.size())
    throw Error(g.path(), "tokenizer.ggml.token_type has " + std::to_string(types.ints.size()) + " entries for " +
                              std::to_string(tokens.size()) + " tokens");
  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t t = types.ints[i];
    if (t == kControl || t == kUserDefined)
      added.push_back({{"id", i}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", t != kControl}, {"special", t == kControl}});
    else
      vocab[tokens[i]] = i;
  }
  json pre_tok;
  if (pre == "gpt-2") {
    pre_tok = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  } else {
    std::string regex;
    for (const auto& [name, r] : known_splits())
      if (name == pre) regex = r;
    if (regex.empty()) throw Error(g.path(), "pre-tokenizer " + quote_value(pre) + " is not supported (gpt-2, llama-bpe, qwen2)");
    pre_tok = {{"type", "Sequence"},
               {"pretokenizers",
                {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
                 {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}}}};
  }
  json post = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  const GgufValue* add_bos = g.find("tokenizer.ggml.add_bos_token");
  const GgufValue* bos = g.find("tokenizer.ggml.bos_token_id");
  if (add_bos && add_bos->as_bool() && bos) {
    const int64_t id = bos->as_int();
    if (id < 0 || size_t(id) >= tokens.size()) throw Error(g.path(), "tokenizer.ggml.bos_token_id is out of range");
    const std::string b = tokens[size_t(id)];
    post = {{"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair", {{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                      {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
            {"special_tokens", {{b, {{"id", b}, {"ids", {id}}, {"tokens", {b}}}}}}};
  }
  json model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                {"ignore_merges", pre == "llama-bpe"}, {"vocab", vocab},
                {"merges", g.find("tokenizer.ggml.merges") ? g.at("tokenizer.ggml.merges").strings : std::vector<std::string>{}}};
  return json{{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
              {"normalizer", pre == "qwen2" ? json{{"type", "NFC"}} : json()}, {"pre_tokenizer", pre_tok}, {"post_processor", post},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model", model}}
      .dump();
}

}  // namespace sq
