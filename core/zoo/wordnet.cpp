#include "core/zoo/wordnet.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "core/error.h"

namespace sq {

namespace fs = std::filesystem;

namespace {

// Each data file and the part of speech its offsets belong to (pointers name a file by it).
struct DataFile {
  const char* name;
  char pos;
};
const DataFile kFiles[] = {{"data.noun", 'n'}, {"data.verb", 'v'}, {"data.adj", 'a'}, {"data.adv", 'r'}};

struct Synset {
  char pos = 'n';  // n, v, a, s (adjective satellite), r
  std::vector<std::string> lemmas;
  std::vector<std::pair<bool, std::string>> hypernyms;  // (instance?, "offset pos")
  std::string definition;
  std::vector<std::string> examples;
};

// "suicide_mission" -> "suicide mission"; adjectives' syntactic markers "(a)", "(p)", "(ip)" go.
std::string lemma_text(std::string w) {
  if (const auto open = w.find('('); open != std::string::npos && w.back() == ')') w.erase(open);
  for (char& c : w)
    if (c == '_') c = ' ';
  return w;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

// The gloss "definition; \"example\"; \"example\"": a definition may hold semicolons of its own,
// so it ends where the first quoted example starts.
void split_gloss(const std::string& gloss, Synset& s) {
  size_t quote = gloss.find('"');
  std::string def = gloss.substr(0, quote);
  while (!def.empty() && (def.back() == ' ' || def.back() == ';')) def.pop_back();
  // A leading usage note such as "(usually followed by `to')" is no part of the meaning.
  if (!def.empty() && def[0] == '(') {
    if (const auto close = def.find(')'); close != std::string::npos) def = trim(def.substr(close + 1));
  }
  s.definition = def;
  while (quote != std::string::npos) {
    const size_t end = gloss.find('"', quote + 1);
    if (end == std::string::npos) break;
    if (end > quote + 1) s.examples.push_back(gloss.substr(quote + 1, end - quote - 1));
    quote = gloss.find('"', end + 1);
  }
}

Synset parse_line(const std::string& line, const std::string& file, size_t line_no) {
  auto bad = [&](const std::string& what) {
    return Error(file, "line " + std::to_string(line_no) + ": " + what + " (not a WordNet 3.0 data file?)");
  };
  const auto bar = line.find(" | ");
  std::istringstream in(line.substr(0, bar));
  std::string offset, lex_file, pos, count;
  if (!(in >> offset >> lex_file >> pos >> count) || pos.size() != 1) throw bad("no synset header");
  Synset s;
  s.pos = pos[0];
  char* end = nullptr;
  const long words = std::strtol(count.c_str(), &end, 16);
  if (*end || words <= 0 || words > 0xff) throw bad("word count " + quote_value(count));
  for (long i = 0; i < words; ++i) {
    std::string w, lex_id;
    if (!(in >> w >> lex_id)) throw bad("fewer words than its count");
    s.lemmas.push_back(lemma_text(w));
  }
  int pointers = 0;
  if (!(in >> pointers) || pointers < 0 || pointers > 9999) throw bad("no pointer count");
  for (int i = 0; i < pointers; ++i) {
    std::string symbol, target, target_pos, source_target;
    if (!(in >> symbol >> target >> target_pos >> source_target)) throw bad("fewer pointers than its count");
    if (symbol == "@" || symbol == "@i") s.hypernyms.push_back({symbol == "@i", target + " " + target_pos});
  }
  if (bar != std::string::npos) split_gloss(trim(line.substr(bar + 3)), s);
  return s;
}

std::string capitalized(std::string s) {
  if (!s.empty()) s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string sentence(const std::string& s) {
  std::string out = capitalized(trim(s));
  if (!out.empty() && out.back() != '.' && out.back() != '!' && out.back() != '?') out += '.';
  return out;
}

std::string with_article(const std::string& noun) {
  const char c = char(std::tolower(static_cast<unsigned char>(noun.empty() ? 'x' : noun[0])));
  return (std::string("aeiou").find(c) != std::string::npos ? "an " : "a ") + noun;
}

// "Explosion is the act of exploding or bursting. Explosion is a kind of discharge. Explosion is
// also called burst. The explosion of the firecrackers awoke the children."
std::string paragraph(const Synset& s, const std::unordered_map<std::string, std::string>& first_lemma) {
  const std::string& w = s.lemmas.front();
  const bool verb = s.pos == 'v', noun = s.pos == 'n';
  const std::string subject = verb ? "to " + w : w;
  std::vector<std::string> out;
  if (!s.definition.empty())
    out.push_back(sentence(subject + (verb ? " is to " : noun ? " is " : " means ") + s.definition));
  for (const auto& [instance, target] : s.hypernyms) {
    const auto it = first_lemma.find(target);
    if (it == first_lemma.end()) continue;
    out.push_back(sentence(subject + (verb ? " is a way to " + it->second : instance ? " is " + with_article(it->second)
                                                                                     : " is a kind of " + it->second)));
  }
  std::vector<std::string> others;
  for (size_t i = 1; i < s.lemmas.size(); ++i)
    if (s.lemmas[i] != w) others.push_back((verb ? "to " : "") + s.lemmas[i]);
  if (!others.empty()) {
    std::string names = others.front();
    for (size_t i = 1; i < others.size(); ++i) names += (i + 1 == others.size() ? " or " : ", ") + others[i];
    out.push_back(sentence(subject + " is also called " + names));
  }
  for (const std::string& e : s.examples) out.push_back(sentence(e));
  std::string text;
  for (const std::string& o : out) text += (text.empty() ? "" : " ") + o;
  return text;
}

}  // namespace

std::string wordnet_dir() {
  const char* env = std::getenv("SAFEQUANT_WORDNET");
  const std::string dir = env && *env ? env : "/usr/share/wordnet";
  for (const DataFile& f : kFiles)
    if (!fs::is_regular_file(fs::path(dir) / f.name))
      throw Error(dir, std::string("no WordNet ") + f.name + " here: install Debian's wordnet-base (packaging/install-deps.sh does), "
                       "or point SAFEQUANT_WORDNET at a folder holding WordNet 3.0's data files");
  return dir;
}

WordNetText read_wordnet(const std::string& dir) {
  std::vector<Synset> synsets;
  std::unordered_map<std::string, std::string> first_lemma;  // "offset pos" -> first lemma
  for (const DataFile& data : kFiles) {
    const std::string file = (fs::path(dir) / data.name).string();
    std::ifstream in(file);
    if (!in) throw Error(file, "cannot open");
    size_t line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      if (line.empty() || line[0] == ' ') continue;  // the licence header
      Synset s = parse_line(line, file, line_no);
      // Pointers name an adjective satellite by "s" or by its file's "a".
      const std::string offset = line.substr(0, line.find(' '));
      first_lemma[offset + " " + data.pos] = s.lemmas.front();
      if (s.pos == 's') first_lemma[offset + " s"] = s.lemmas.front();
      synsets.push_back(std::move(s));
    }
  }
  if (synsets.empty()) throw Error(dir, "the WordNet data files hold no synset");
  WordNetText t;
  t.dir = dir;
  for (const Synset& s : synsets) {
    std::string p = paragraph(s, first_lemma);
    if (!p.empty()) t.paragraphs.push_back(std::move(p));
    t.senses.push_back({s.lemmas, s.definition, s.examples});
  }
  return t;
}

}  // namespace sq
