#include "core/data/prompt_set.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/io/mapped_file.h"
#include "core/text/unicode_text.h"

namespace sq {
namespace {

using nlohmann::json;

int parse_label(const std::string& label, const std::string& where) {
  if (label == "malicious") return 1;
  if (label == "benign") return 0;
  throw Error(where, "label must be \"malicious\" or \"benign\", got \"" + label + "\"");
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// One CSV record (RFC 4180: quoted fields may hold commas, doubled quotes and newlines). A quote
// still open at the end of the file is an error: it would swallow every record after it.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, int& line, const std::string& path) {
  fields.clear();
  std::string field;
  bool quoted = false, any = false;
  int quote_line = 0;
  for (int ch; (ch = in.get()) != EOF;) {
    any = true;
    const char c = static_cast<char>(ch);
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          field += '"';
          in.get();
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      quote_line = line;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c == '\n') {
      ++line;
      fields.push_back(field);
      return true;
    } else if (c != '\r') {
      field += c;
    }
  }
  if (quoted) throw Error(path + ":" + std::to_string(quote_line), "a quoted field is never closed (it runs to the end of the file)");
  if (any) fields.push_back(field);
  return any;
}

std::vector<Prompt> load_csv(const std::string& path, std::istream& in) {
  std::vector<std::string> header, row;
  int line = 1;
  if (!read_csv_record(in, header, line, path)) throw Error(path, "empty prompt file");
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string h = header[i];
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    col[h] = i;
  }
  if (!col.count("prompt") && col.count("goal")) col["prompt"] = col["goal"];
  if (!col.count("prompt") || !col.count("label"))
    throw Error(path, "CSV header needs a \"prompt\" (or \"goal\") and a \"label\" column");
  auto get = [&](const char* name) { return col.count(name) && col[name] < row.size() ? row[col[name]] : std::string(); };
  std::vector<Prompt> out;
  for (int start = line; read_csv_record(in, row, line, path); start = line) {
    if (row.size() == 1 && blank(row[0])) continue;
    const std::string where = path + ":" + std::to_string(start);
    // JSONL's parser refuses ill-formed UTF-8; CSV fields are bytes until checked here.
    for (const std::string& field : row)
      if (!unicode::is_valid_utf8(field)) throw Error(where, "not valid UTF-8 text");
    Prompt p{get("id"), get("prompt"), get("source"), get("category"), get("answer"), parse_label(get("label"), where)};
    if (blank(p.text)) throw Error(where, "empty prompt");
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<Prompt> load_jsonl(const std::string& path, std::istream& in) {
  std::vector<Prompt> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (blank(line)) continue;
    const std::string where = path + ":" + std::to_string(n);
    json j;
    try {
      j = parse_json(line, where);
    } catch (const Error&) {
      throw Error(where, "not a JSON object");
    }
    if (!j.is_object()) throw Error(where, "not a JSON object");
    auto text = [&](const char* key) -> std::string {
      if (!j.contains(key) || j[key].is_null()) return "";
      if (j[key].is_string()) return j[key].get<std::string>();
      if (j[key].is_number()) return j[key].dump();
      throw Error(where, std::string("\"") + key + "\" must be a string");
    };
    if (!j.contains("prompt")) throw Error(where, "missing \"prompt\"");
    if (!j.contains("label")) throw Error(where, "missing \"label\"");
    Prompt p{text("id"), text("prompt"), text("source"), text("category"), text("answer"), parse_label(text("label"), where)};
    if (blank(p.text)) throw Error(where, "empty prompt");
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

uint64_t id_hash(const std::string& id, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);  // FNV-1a, seeded
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // FNV alone leaves ids that share a prefix on neighbouring hashes, so ordering by it took whole
  // blocks of one source; MurmurHash3's fmix64 finalizer gives every bit full avalanche.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

std::vector<Prompt> load_prompts(const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open prompt file");
  const std::string ext = std::filesystem::path(path).extension().string();
  std::vector<Prompt> out = ext == ".csv" ? load_csv(path, in) : load_jsonl(path, in);
  if (out.empty()) throw Error(path, "no prompts in this file");
  const std::string stem = std::filesystem::path(path).stem().string();
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].id.empty()) out[i].id = stem + "-" + std::to_string(i);
    if (out[i].source.empty()) out[i].source = stem;
  }
  return out;
}

void write_prompts(const std::string& path, const std::vector<Prompt>& prompts) {
  std::string text;
  for (const Prompt& p : prompts) {
    nlohmann::json j = {{"id", p.id}, {"prompt", p.text}, {"label", p.label ? "malicious" : "benign"}, {"source", p.source}};
    if (!p.answer.empty()) j["answer"] = p.answer;
    if (!p.category.empty()) j["category"] = p.category;
    text += j.dump() + "\n";
  }
  write_atomically(path, [&](std::ostream& out) { out << text; });
}

std::vector<Prompt> load_prompt_files(const std::vector<std::string>& paths) {
  if (paths.empty()) throw Error("no prompt files given");
  std::vector<Prompt> all;
  std::map<std::string, std::string> seen;  // id -> file
  for (const std::string& path : paths) {
    for (Prompt& p : load_prompts(path)) {
      auto [it, fresh] = seen.emplace(p.id, path);
      if (!fresh) throw Error(path, "prompt id \"" + p.id + "\" also appears in " + it->second);
      all.push_back(std::move(p));
    }
  }
  return all;
}

std::vector<size_t> apportion(const std::vector<size_t>& sizes, size_t count) {
  const size_t total = std::accumulate(sizes.begin(), sizes.end(), size_t(0));
  std::vector<size_t> out(sizes.size(), 0);
  if (total == 0) return out;
  // Exact share s * count / total as a floor and a remainder over `total`, in integers.
  std::vector<size_t> rem(sizes.size()), order(sizes.size());
  size_t given = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    out[i] = sizes[i] * count / total;
    rem[i] = sizes[i] * count % total;
    given += out[i];
  }
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rem[a] != rem[b] ? rem[a] > rem[b] : sizes[a] > sizes[b];
  });
  for (size_t k = 0; given < count && k < order.size(); ++k, ++given) ++out[order[k]];
  return out;
}

namespace {

// Prompt indices per (label, source), malicious first then by source, each in hash order of
// (seed, id) (ties, which need a 64-bit collision, by id).
using Strata = std::map<std::pair<int, std::string>, std::vector<size_t>>;  // key: (-label, source)

Strata group_strata(const std::vector<Prompt>& prompts, uint64_t seed) {
  std::vector<uint64_t> h(prompts.size());
  Strata g;
  for (size_t i = 0; i < prompts.size(); ++i) {
    h[i] = id_hash(prompts[i].id, seed);
    g[{-prompts[i].label, prompts[i].source}].push_back(i);
  }
  for (auto& entry : g)
    std::sort(entry.second.begin(), entry.second.end(),
              [&](size_t a, size_t b) { return h[a] != h[b] ? h[a] < h[b] : prompts[a].id < prompts[b].id; });
  return g;
}

// The first `count` prompts of one label: apportioned among its sources, each source's taken
// first in hash order.
std::vector<size_t> take_stratified(const Strata& strata, int label, size_t count) {
  std::vector<const std::vector<size_t>*> members;
  std::vector<size_t> sizes;
  for (const auto& [key, idx] : strata)
    if (key.first == -label) {
      members.push_back(&idx);
      sizes.push_back(idx.size());
    }
  const size_t total = std::accumulate(sizes.begin(), sizes.end(), size_t(0));
  const std::vector<size_t> quota = apportion(sizes, std::min(count, total));
  std::vector<size_t> out;
  for (size_t s = 0; s < members.size(); ++s) out.insert(out.end(), members[s]->begin(), members[s]->begin() + long(quota[s]));
  return out;
}

}  // namespace

std::vector<size_t> stratified_draw(const std::vector<Prompt>& prompts, int label, size_t count, uint64_t seed) {
  std::vector<size_t> out = take_stratified(group_strata(prompts, seed), label, count);
  std::sort(out.begin(), out.end());
  return out;
}

Split stratified_split(const std::vector<Prompt>& prompts, double test_share, uint64_t seed) {
  const Strata strata = group_strata(prompts, seed);
  std::vector<char> held(prompts.size(), 0);
  for (int label : {0, 1}) {
    const size_t n = size_t(std::count_if(prompts.begin(), prompts.end(), [&](const Prompt& p) { return p.label == label; }));
    size_t n_test = static_cast<size_t>(double(n) * test_share + 0.5);
    if (n_test == 0 && n >= 2 && test_share > 0) n_test = 1;
    for (size_t i : take_stratified(strata, label, n_test)) held[i] = 1;
  }
  Split s;
  for (size_t i = 0; i < prompts.size(); ++i) (held[i] ? s.test : s.train).push_back(i);
  return s;
}

std::vector<Stratum> strata_of(const std::vector<Prompt>& prompts, const std::vector<size_t>& chosen) {
  std::map<std::pair<int, std::string>, Stratum> by;
  for (const Prompt& p : prompts) {
    Stratum& s = by[{-p.label, p.source}];
    s.label = p.label;
    s.source = p.source;
    ++s.population;
  }
  for (size_t i : chosen) ++by[{-prompts[i].label, prompts[i].source}].drawn;
  std::vector<Stratum> out;
  for (auto& entry : by) out.push_back(std::move(entry.second));
  return out;
}

std::string strata_json(const std::vector<Stratum>& strata, const std::string& drawn_key) {
  json out = json::array();
  for (const Stratum& s : strata)
    out.push_back({{"label", s.label ? "malicious" : "benign"}, {"source", s.source}, {"prompts", s.population}, {drawn_key, s.drawn}});
  return out.dump();
}

std::vector<int> stratified_folds(const std::vector<Prompt>& prompts, int k, uint64_t seed) {
  if (k < 2) throw Error("cross-validation needs at least 2 folds, got " + std::to_string(k));
  std::vector<int> fold(prompts.size(), 0);
  size_t dealt = 0;  // one count across labels and strata keeps the folds' sizes within one
  for (const auto& entry : group_strata(prompts, seed))
    for (size_t i : entry.second) fold[i] = int(dealt++ % size_t(k));
  return fold;
}

}  // namespace sq
