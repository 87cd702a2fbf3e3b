#include "core/model/tokenizer.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/io/json_file.h"
#include "core/io/mapped_file.h"
#include "core/model/bpe.h"
#include "core/model/text_split.h"
#include "core/text/unicode_text.h"

namespace sq {
namespace {

using nlohmann::json;
using tok::Pattern;
using tok::SplitBehavior;

// A piece of text on its way to the model; `at_start` marks the piece that begins the input.
struct Piece {
  std::string text;
  bool at_start;
};

// The bytes a normalizer or pre-tokenizer chain may make of the text being encoded: 16 times it
// plus 4 KB, set by encode() and checked after every step, so that a hostile chain (40 chained
// Replace "l" -> "lll", 200 stacked ByteLevel) is refused at once instead of taking the machine.
thread_local size_t t_output_budget = SIZE_MAX;
struct ChainTooLong : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void check_budget(size_t bytes, const char* stage) {
  if (bytes > t_output_budget) throw ChainTooLong(stage);
}
size_t piece_bytes(const std::vector<Piece>& pieces) {
  size_t n = 0;
  for (const Piece& p : pieces) n += p.text.size();
  return n;
}

using Normalizer = std::function<std::string(const std::string&)>;
using PreTokenizer = std::function<void(std::vector<Piece>&)>;
using Decoder = std::function<void(std::vector<std::string>&)>;

struct AddedToken {
  int32_t id;
  std::string content;
  bool single_word, lstrip, rstrip, normalized, special;
};

// Thrown while reading the JSON; turned into an sq::Error naming the file.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const std::string kMetaspace = "\xE2\x96\x81";  // U+2581

std::string str(const json& j, const char* key, const std::string& fallback = "") {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<std::string>();
}
bool flag(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it == j.end() ? fallback : it->get<bool>();  // null is no boolean to tokenizers either
}

// {"String": s} or {"Regex": r}, as Split, Replace normalizers and decoders write patterns.
Pattern pattern_of(const json& p) {
  if (p.contains("String")) return Pattern(p.at("String").get<std::string>(), true);
  if (p.contains("Regex")) return Pattern(p.at("Regex").get<std::string>(), false);
  throw Unsupported("pattern " + json_excerpt(p));
}

bool is_whitespace(uint32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

// The code point that ends `s` before `end`, or the one that starts at `begin`.
uint32_t last_code_point(const std::string& s, size_t end) {
  if (end == 0) return 0;
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  UChar32 c;
  int32_t at = static_cast<int32_t>(i);
  U8_NEXT(reinterpret_cast<const uint8_t*>(s.data()), at, static_cast<int32_t>(end), c);
  return static_cast<uint32_t>(c < 0 ? 0 : c);
}
uint32_t code_point_at(const std::string& s, size_t begin) {
  if (begin >= s.size()) return 0;
  UChar32 c;
  int32_t at = static_cast<int32_t>(begin);
  U8_NEXT(reinterpret_cast<const uint8_t*>(s.data()), at, static_cast<int32_t>(s.size()), c);
  return static_cast<uint32_t>(c < 0 ? 0 : c);
}

// Metaspace's prepend_scheme; older files say add_prefix_space instead.
std::string metaspace_prepend_scheme(const json& j) {
  std::string scheme = str(j, "prepend_scheme");
  if (scheme.empty()) scheme = flag(j, "add_prefix_space", true) ? "always" : "never";
  if (scheme != "always" && scheme != "first" && scheme != "never") throw Unsupported("Metaspace prepend_scheme " + quote_value(scheme));
  return scheme;
}

// ---- normalizers ---------------------------------------------------------------------------

std::string icu_transform(const std::string& s, const std::string& form) {
  if (form == "NFC") return unicode::nfc(s);
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(s);
  if (form == "Lowercase") u.toLower(icu::Locale::getRoot());
  std::string out;
  u.toUTF8String(out);
  return out;
}

Normalizer make_normalizer(const json& j) {
  const std::string type = str(j, "type");
  if (type == "NFC" || type == "Lowercase") return [type](const std::string& s) { return icu_transform(s, type); };
  if (type == "Prepend") {
    const std::string prefix = str(j, "prepend");
    return [prefix](const std::string& s) {
      check_budget(s.size() + prefix.size(), "normalizer Prepend");
      return s.empty() ? s : prefix + s;
    };
  }
  if (type == "Replace") {
    auto pattern = std::make_shared<Pattern>(pattern_of(j.at("pattern")));
    const std::string content = str(j, "content");
    return [pattern, content](const std::string& s) {
      try {
        return pattern->replace_all(s, content, t_output_budget);
      } catch (const std::length_error&) {
        throw ChainTooLong("normalizer Replace");
      }
    };
  }
  if (type == "Sequence") {
    std::vector<Normalizer> parts;
    for (const json& n : j.at("normalizers")) parts.push_back(make_normalizer(n));
    return [parts](const std::string& s) {
      std::string out = s;
      for (const auto& n : parts) {
        out = n(out);
        check_budget(out.size(), "normalizer Sequence");
      }
      return out;
    };
  }
  throw Unsupported("normalizer " + quote_value(type));
}

// ---- pre-tokenizers ------------------------------------------------------------------------

// Replaces every piece by the pieces `f` makes of it; only the first keeps `at_start`.
template <typename F>
void split_each(std::vector<Piece>& pieces, F f) {
  std::vector<Piece> out;
  for (Piece& p : pieces) {
    bool first = p.at_start;
    for (std::string& s : f(p)) {
      out.push_back({std::move(s), first});
      first = false;
    }
  }
  pieces = std::move(out);
}

PreTokenizer make_pre_tokenizer(const json& j, bool* byte_level) {
  const std::string type = str(j, "type");
  if (type == "ByteLevel") {
    *byte_level = true;
    const bool prefix = flag(j, "add_prefix_space", true);
    const bool use_regex = flag(j, "use_regex", true);
    auto regex = std::make_shared<Pattern>(kGpt2Regex, false);
    return [=](std::vector<Piece>& pieces) {
      split_each(pieces, [&](Piece& p) {
        std::string s = p.text;
        if (prefix && (s.empty() || s[0] != ' ')) s = " " + s;
        std::vector<std::string> parts = use_regex ? tok::split_text(s, *regex, SplitBehavior::Isolated)
                                                   : std::vector<std::string>{s};
        for (std::string& part : parts) part = unicode::bytes_to_alphabet(part);
        return parts;
      });
      check_budget(piece_bytes(pieces), "pre_tokenizer ByteLevel");
    };
  }
  if (type == "Split") {
    auto pattern = std::make_shared<Pattern>(pattern_of(j.at("pattern")));
    const SplitBehavior behavior = tok::parse_split_behavior(str(j, "behavior", "Isolated"));
    const bool invert = flag(j, "invert", false);
    return [=](std::vector<Piece>& pieces) {
      split_each(pieces, [&](Piece& p) { return tok::split_text(p.text, *pattern, behavior, invert); });
    };
  }
  if (type == "Digits") {
    auto digits = std::make_shared<Pattern>("\\p{N}", false);
    const SplitBehavior behavior = flag(j, "individual_digits", false) ? SplitBehavior::Isolated : SplitBehavior::Contiguous;
    return [=](std::vector<Piece>& pieces) {
      split_each(pieces, [&](Piece& p) { return tok::split_text(p.text, *digits, behavior); });
    };
  }
  if (type == "Metaspace") {
    const std::string replacement = str(j, "replacement", kMetaspace);
    const std::string scheme = metaspace_prepend_scheme(j);
    const bool split = flag(j, "split", true);
    auto space = std::make_shared<Pattern>(" ", true);
    auto marker = std::make_shared<Pattern>(replacement, true);
    return [=](std::vector<Piece>& pieces) {
      split_each(pieces, [&](Piece& p) {
        std::string s = space->replace_all(p.text, replacement);
        const bool prepend = scheme == "always" || (scheme == "first" && p.at_start);
        if (prepend && s.rfind(replacement, 0) != 0) s = replacement + s;
        return split ? tok::split_text(s, *marker, SplitBehavior::MergedWithNext) : std::vector<std::string>{s};
      });
    };
  }
  if (type == "Sequence") {
    std::vector<PreTokenizer> parts;
    for (const json& p : j.at("pretokenizers")) parts.push_back(make_pre_tokenizer(p, byte_level));
    return [parts](std::vector<Piece>& pieces) {
      for (const auto& p : parts) {
        p(pieces);
        check_budget(piece_bytes(pieces), "pre_tokenizer Sequence");
      }
    };
  }
  throw Unsupported("pre_tokenizer " + quote_value(type));
}

// ---- decoders ------------------------------------------------------------------------------

std::string join(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

Decoder make_decoder(const json& j) {
  const std::string type = str(j, "type");
  if (type == "ByteLevel") {
    return [](std::vector<std::string>& tokens) {
      std::string bytes;
      for (const std::string& t : tokens) {
        std::string mapped;
        bool all = true;
        for (const std::string& c : unicode::utf8_chars(t)) {
          const int b = unicode::char_to_byte(c);
          if (b < 0) {
            all = false;
            break;
          }
          mapped += static_cast<char>(b);
        }
        bytes += all ? mapped : t;
      }
      tokens = {unicode::make_valid_utf8(bytes)};
    };
  }
  if (type == "Replace") {
    auto pattern = std::make_shared<Pattern>(pattern_of(j.at("pattern")));
    const std::string content = str(j, "content");
    return [=](std::vector<std::string>& tokens) {
      for (auto& t : tokens) t = pattern->replace_all(t, content);
    };
  }
  if (type == "ByteFallback") {
    return [](std::vector<std::string>& tokens) {
      std::vector<std::string> out;
      std::string pending;  // bytes of consecutive <0xNN> tokens
      size_t pending_count = 0;
      auto flush = [&] {
        if (pending_count == 0) return;
        if (unicode::is_valid_utf8(pending)) {
          out.push_back(pending);
        } else {
          for (size_t i = 0; i < pending_count; ++i) out.push_back("\xEF\xBF\xBD");
        }
        pending.clear();
        pending_count = 0;
      };
      for (const std::string& t : tokens) {
        if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
            std::isxdigit(static_cast<unsigned char>(t[4]))) {
          pending += static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16));
          ++pending_count;
        } else {
          flush();
          out.push_back(t);
        }
      }
      flush();
      tokens = std::move(out);
    };
  }
  if (type == "Fuse") return [](std::vector<std::string>& tokens) { tokens = {join(tokens)}; };
  if (type == "Strip") {
    const std::string content = str(j, "content", " ");
    const size_t start = j.value("start", 0u), stop = j.value("stop", 0u);
    return [=](std::vector<std::string>& tokens) {
      for (auto& t : tokens) {
        auto chars = unicode::utf8_chars(t);
        size_t b = 0, e = chars.size();
        while (b < e && b < start && chars[b] == content) ++b;
        while (e > b && chars.size() - e < stop && chars[e - 1] == content) --e;
        std::string s;
        for (size_t i = b; i < e; ++i) s += chars[i];
        t = s;
      }
    };
  }
  if (type == "Metaspace") {
    const std::string replacement = str(j, "replacement", kMetaspace);
    const std::string scheme = metaspace_prepend_scheme(j);
    auto marker = std::make_shared<Pattern>(replacement, true);
    return [=](std::vector<std::string>& tokens) {
      for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = marker->replace_all(tokens[i], i == 0 && scheme != "never" ? "" : " ");
    };
  }
  if (type == "Sequence") {
    std::vector<Decoder> parts;
    for (const json& d : j.at("decoders")) parts.push_back(make_decoder(d));
    return [parts](std::vector<std::string>& tokens) {
      for (const auto& d : parts) d(tokens);
    };
  }
  throw Unsupported("decoder " + quote_value(type));
}

}  // namespace

struct Tokenizer::Impl {
  std::unique_ptr<tok::Bpe> model;
  std::vector<AddedToken> added;        // longest content first, for leftmost-longest matching
  std::map<int32_t, size_t> added_by_id;
  std::optional<Normalizer> normalizer;
  std::optional<PreTokenizer> pre_tokenizer;
  std::optional<Decoder> decoder;
  std::vector<std::vector<json>> templates;  // TemplateProcessing "single" items, in order applied
  std::map<std::string, std::vector<int32_t>> template_tokens;
  bool byte_level = false;
  std::string origin;  // the file, for messages

  // Splits `text` at added tokens of one kind (normalized or not): ids for matches, text else.
  void split_added(std::vector<std::pair<std::string, int32_t>>& parts, bool normalized_kind) const {
    std::vector<std::pair<std::string, int32_t>> out;
    for (auto& [text, id] : parts) {
      if (id >= 0) {
        out.emplace_back(std::move(text), id);
        continue;
      }
      size_t emitted = 0, at = 0;
      while (at < text.size()) {
        const AddedToken* hit = nullptr;
        for (const AddedToken& t : added)
          if (t.normalized == normalized_kind && text.compare(at, t.content.size(), t.content) == 0) {
            hit = &t;
            break;
          }
        if (!hit) {
          ++at;
          continue;
        }
        size_t start = at, stop = at + hit->content.size();
        if (hit->single_word) {
          const bool left_ok = start == 0 || is_whitespace(last_code_point(text, start));
          const bool right_ok = stop == text.size() || is_whitespace(code_point_at(text, stop));
          if (!left_ok || !right_ok) {
            ++at;
            continue;
          }
        }
        if (hit->lstrip)
          for (uint32_t c; start > emitted && is_whitespace(c = last_code_point(text, start));)
            start -= unicode::encode_utf8(c).size();
        if (hit->rstrip)
          for (uint32_t c; stop < text.size() && is_whitespace(c = code_point_at(text, stop));)
            stop += unicode::encode_utf8(c).size();
        if (start > emitted) out.emplace_back(text.substr(emitted, start - emitted), -1);
        out.emplace_back(text.substr(start, stop - start), hit->id);
        emitted = at = stop;
      }
      if (emitted < text.size()) out.emplace_back(text.substr(emitted), -1);
    }
    parts = std::move(out);
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open tokenizer file");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), path);
}

Tokenizer Tokenizer::from_json(const std::string& text, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  try {
    const json j = parse_json(text, origin);
    const json& m = j.at("model");
    const std::string model_type = str(m, "type", "BPE");
    if (model_type != "BPE") throw Unsupported("model type " + quote_value(model_type));
    if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"].get<double>() != 0.0)
      throw Unsupported("BPE dropout");
    // Ids index tables sized by the largest one: an id must be a whole number within reach of the
    // vocabulary's size (a 12 KB file naming id 2^26 took 2.3 GB; 2^40 read as 0, 1.5 as 1).
    const json& vocab_json = m.at("vocab");
    const int64_t id_bound = 2 * int64_t(vocab_json.size() + j.value("added_tokens", json::array()).size()) + 1024;
    auto checked_id = [&](const json& id, const std::string& token) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= id_bound)
        throw Error(origin, "token '" + token.substr(0, 40) + "' has id " + json_excerpt(id, 24) +
                                ": ids must be whole numbers from 0 to below " + std::to_string(id_bound) + " for this vocabulary");
      return int32_t(id.get<int64_t>());
    };
    if (!vocab_json.is_object() || vocab_json.empty()) throw Error(origin, "the vocabulary (model.vocab) is empty");
    std::unordered_map<std::string, int32_t> vocab;
    std::unordered_map<int32_t, std::string> by_id;
    for (const auto& [tok, id] : vocab_json.items()) {
      const int32_t i = checked_id(id, tok);
      // Two tokens on one id would decode one of them as the other.
      if (auto [it, fresh] = by_id.emplace(i, tok); !fresh)
        throw Error(origin, "tokens '" + it->second.substr(0, 40) + "' and '" + tok.substr(0, 40) + "' share id " + std::to_string(i) +
                                " in model.vocab");
      vocab.emplace(tok, i);
    }
    std::vector<std::pair<std::string, std::string>> merges;
    if (!m.contains("merges") || !m["merges"].is_array())
      throw Error(origin, "model.merges must be a list of merges, got " + json_excerpt(m.value("merges", json()), 24));
    for (const json& mg : m.at("merges")) {
      if (mg.is_array()) {
        merges.emplace_back(mg.at(0).get<std::string>(), mg.at(1).get<std::string>());
      } else {
        const std::string s = mg.get<std::string>();
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) throw Unsupported("merge without a space: " + quote_value(s));
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      }
    }
    tok::BpeOptions opt;
    auto opt_str = [&](const char* key) -> std::optional<std::string> {
      if (!m.contains(key) || m[key].is_null()) return std::nullopt;
      return m[key].get<std::string>();
    };
    opt.unk_token = opt_str("unk_token");
    opt.continuing_subword_prefix = opt_str("continuing_subword_prefix");
    opt.end_of_word_suffix = opt_str("end_of_word_suffix");
    opt.byte_fallback = flag(m, "byte_fallback", false);
    opt.fuse_unk = flag(m, "fuse_unk", false);
    opt.ignore_merges = flag(m, "ignore_merges", false);
    impl->model = std::make_unique<tok::Bpe>(std::move(vocab), merges, opt);

    for (const json& a : j.value("added_tokens", json::array())) {
      AddedToken t{checked_id(a.at("id"), a.at("content").get<std::string>()), a.at("content").get<std::string>(), flag(a, "single_word", false),
                   flag(a, "lstrip", false),  flag(a, "rstrip", false),  flag(a, "normalized", true),
                   flag(a, "special", false)};
      if (t.content.empty()) throw Unsupported("an empty added token");
      impl->added.push_back(t);
    }
    std::stable_sort(impl->added.begin(), impl->added.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    for (size_t i = 0; i < impl->added.size(); ++i) impl->added_by_id[impl->added[i].id] = i;

    if (j.contains("normalizer") && !j["normalizer"].is_null()) impl->normalizer = make_normalizer(j["normalizer"]);
    if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null())
      impl->pre_tokenizer = make_pre_tokenizer(j["pre_tokenizer"], &impl->byte_level);
    if (j.contains("decoder") && !j["decoder"].is_null()) impl->decoder = make_decoder(j["decoder"]);

    std::function<void(const json&)> read_processor = [&](const json& p) {
      const std::string type = str(p, "type");
      if (type == "ByteLevel") return;  // adjusts offsets only
      if (type == "Sequence") {
        for (const json& q : p.at("processors")) read_processor(q);
        return;
      }
      if (type != "TemplateProcessing") throw Unsupported("post_processor " + quote_value(type));
      impl->templates.push_back(p.at("single").get<std::vector<json>>());
      const json specials = p.value("special_tokens", json::object());
      for (const auto& [name, spec] : specials.items())
        for (const json& id : spec.at("ids")) {
          if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= id_bound)
            throw Error(origin, "post_processor special token '" + name.substr(0, 40) + "' has id " + json_excerpt(id, 24) +
                                    ", outside this vocabulary (ids below " + std::to_string(id_bound) + ")");
          impl->template_tokens[name].push_back(int32_t(id.get<int64_t>()));
        }
    };
    if (j.contains("post_processor") && !j["post_processor"].is_null()) read_processor(j["post_processor"]);
    for (const auto& items : impl->templates)
      for (const json& item : items) {
        if (item.contains("SpecialToken")) {
          const std::string name = item["SpecialToken"].at("id").get<std::string>();
          if (!impl->template_tokens.count(name)) throw Unsupported("template special token " + quote_value(name) + " without ids");
        } else if (!item.contains("Sequence") || item["Sequence"].at("id").get<std::string>() != "A") {
          throw Unsupported("template item " + json_excerpt(item));
        }
      }
    for (const auto& [name, ids] : impl->template_tokens)
      for (int32_t id : ids)
        if (!impl->added_by_id.count(id) && !impl->model->token(id))
          throw Error(origin, "post_processor special token '" + name.substr(0, 40) + "' has id " + std::to_string(id) +
                                  ", which no token of the vocabulary holds");
  } catch (const Unsupported& e) {
    throw Error(origin, std::string("unsupported tokenizer component: ") + e.what());
  } catch (const json::exception& e) {
    throw Error(origin, "malformed tokenizer.json: " + json_error_text(e));
  } catch (const std::invalid_argument& e) {
    throw Error(origin, std::string("invalid tokenizer.json: ") + e.what());
  }
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_special) const {
  // Tokenizers take Unicode text; bytes that are no UTF-8 have no pre-tokenization.
  if (!unicode::is_valid_utf8(text)) throw Error("cannot tokenize text that is not valid UTF-8");
  const Impl& t = *impl_;
  std::vector<std::pair<std::string, int32_t>> parts{{text, -1}};
  std::vector<int32_t> ids;
  struct Budget {
    explicit Budget(size_t n) { t_output_budget = n; }
    ~Budget() { t_output_budget = SIZE_MAX; }
  } budget(text.size() > (SIZE_MAX - 4096) / 16 ? SIZE_MAX : 16 * text.size() + 4096);
  try {
    t.split_added(parts, false);
    if (t.normalizer)
      for (auto& [s, id] : parts)
        if (id < 0) s = (*t.normalizer)(s);
    t.split_added(parts, true);
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto& [s, id] = parts[i];
      if (id >= 0) {
        ids.push_back(id);
        continue;
      }
      std::vector<Piece> pieces{{s, i == 0}};
      if (t.pre_tokenizer) (*t.pre_tokenizer)(pieces);
      for (const Piece& p : pieces) t.model->tokenize(p.text, ids);
    }
  } catch (const ChainTooLong& e) {
    throw Error(t.origin, std::string(e.what()) + " makes more than 16 times the " + std::to_string(text.size()) +
                              " bytes of the text (plus 4 KB): the tokenizer's chain grows without bound, refused");
  }
  if (!add_special) return ids;
  for (const auto& items : t.templates) {
    std::vector<int32_t> out;
    for (const json& item : items) {
      if (item.contains("SpecialToken")) {
        const auto& special = t.template_tokens.at(item["SpecialToken"]["id"].get<std::string>());
        out.insert(out.end(), special.begin(), special.end());
      } else {
        out.insert(out.end(), ids.begin(), ids.end());
      }
    }
    ids = std::move(out);
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    if (auto tok = id_to_token(id)) tokens.push_back(*tok);
  }
  if (!impl_->decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  (*impl_->decoder)(tokens);
  return join(tokens);
}

std::optional<int32_t> Tokenizer::token_to_id(const std::string& token) const {
  for (const AddedToken& a : impl_->added)
    if (a.content == token) return a.id;
  return impl_->model->id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (auto it = impl_->added_by_id.find(id); it != impl_->added_by_id.end()) return impl_->added[it->second].content;
  if (const std::string* t = impl_->model->token(id)) return *t;
  return std::nullopt;
}

bool Tokenizer::is_special(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->added[it->second].special;
}

int32_t Tokenizer::vocab_size() const {
  int32_t n = impl_->model->max_id() + 1;
  for (const AddedToken& a : impl_->added) n = std::max(n, a.id + 1);
  return n;
}

std::string Tokenizer::kind() const { return impl_->byte_level ? "byte-level BPE" : "SentencePiece-style BPE"; }

}  // namespace sq
