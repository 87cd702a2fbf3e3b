#include "core/data/prompt_set.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace sq {
namespace {

using nlohmann::json;

int parse_label(const std::string& label, const std::string& where) {
  if (label == "malicious") return 1;
  if (label == "benign") return 0;
  throw Error(where, "label must be \"malicious\" or \"benign\", got \"" + label + "\"");
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// One CSV record (RFC 4180: quoted fields may hold commas, doubled quotes and newlines).
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, int& line) {
  fields.clear();
  std::string field;
  bool quoted = false, any = false;
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
  if (any) fields.push_back(field);
  return any;
}

std::vector<Prompt> load_csv(const std::string& path, std::istream& in) {
  std::vector<std::string> header, row;
  int line = 1;
  if (!read_csv_record(in, header, line)) throw Error(path, "empty prompt file");
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
  for (int start = line; read_csv_record(in, row, line); start = line) {
    if (row.size() == 1 && blank(row[0])) continue;
    const std::string where = path + ":" + std::to_string(start);
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
      j = json::parse(line);
    } catch (const json::exception&) {
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
  return h;
}

std::vector<Prompt> load_prompts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open prompt file");
  const std::string ext = std::filesystem::path(path).extension().string();
  std::vector<Prompt> out = ext == ".csv" ? load_csv(path, in) : load_jsonl(path, in);
  if (out.empty()) throw Error(path, "no prompts in this file");
  const std::string stem = std::filesystem::path(path).stem().string();
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].id.empty()) out[i].id = stem + "-" + std::to_string(i);
  return out;
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

Split stratified_split(const std::vector<Prompt>& prompts, double test_share, uint64_t seed) {
  Split s;
  for (int label : {0, 1}) {
    std::vector<std::pair<uint64_t, size_t>> order;
    for (size_t i = 0; i < prompts.size(); ++i)
      if (prompts[i].label == label) order.emplace_back(id_hash(prompts[i].id, seed), i);
    std::sort(order.begin(), order.end());
    size_t n_test = static_cast<size_t>(double(order.size()) * test_share + 0.5);
    if (n_test == 0 && order.size() >= 2 && test_share > 0) n_test = 1;
    for (size_t k = 0; k < order.size(); ++k) (k < n_test ? s.test : s.train).push_back(order[k].second);
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

}  // namespace sq
