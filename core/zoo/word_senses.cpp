#include "core/zoo/word_senses.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <unordered_map>

namespace sq {
namespace {

constexpr size_t kMinLetters = 4;
constexpr int kMinPrompts = 3;
constexpr size_t kMeaningsListed = 3;

// Words too common to be a topic (those of four letters or more that requests are made of).
const std::set<std::string>& function_words() {
  static const std::set<std::string> words = {
      "about", "after", "again", "also", "another", "being", "both", "could", "does", "doing", "down", "each", "from", "give",
      "have", "having", "into", "just", "like", "make", "many", "more", "most", "much", "only", "other", "over", "provide",
      "same", "should", "some", "such", "than", "that", "their", "them", "then", "there", "these", "they", "this", "those",
      "through", "very", "want", "were", "what", "when", "where", "which", "while", "will", "with", "without", "would",
      "write", "your", "create", "someone", "something", "explain", "describe", "detailed", "instructions", "step", "steps",
      "guide", "tutorial", "list", "using", "used", "ways", "help", "tell"};
  return words;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::string w;
  for (const char ch : text + " ") {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalpha(c)) {
      w += char(std::tolower(c));
    } else {
      if (!w.empty()) out.push_back(w);
      w.clear();
    }
  }
  return out;
}

bool uses_word(const std::string& sentence, const std::string& word) {
  const std::vector<std::string> words = words_of(sentence);
  return std::find(words.begin(), words.end(), word) != words.end();
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

WordSenseData word_sense_examples(const std::vector<ZooExample>& malicious_training, const WordNetText& wordnet, size_t cap,
                                  uint64_t seed) {
  // How many training prompts use each word.
  std::map<std::string, int> prompts_using;
  for (const ZooExample& e : malicious_training) {
    std::vector<std::string> words = words_of(e.prompt.text);
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    for (const std::string& w : words)
      if (w.size() >= kMinLetters && !function_words().count(w)) ++prompts_using[w];
  }
  // The senses of each topic word, in WordNet's order.
  std::unordered_map<std::string, std::vector<const WordSense*>> senses;
  for (const auto& [w, n] : prompts_using)
    if (n >= kMinPrompts) senses[w];
  for (const WordSense& s : wordnet.senses)
    for (const std::string& lemma : s.lemmas)
      if (auto it = senses.find(lemma); it != senses.end() && !s.definition.empty()) it->second.push_back(&s);

  WordSenseData d;
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [w, list] : senses)
    if (!list.empty()) ranked.emplace_back(-prompts_using.at(w), w);
  std::sort(ranked.begin(), ranked.end());
  auto add = [&](const std::string& id, const std::string& prompt, const std::string& reply) {
    Prompt p;
    p.id = id;
    p.text = prompt;
    p.source = "wordnet-senses";
    p.label = 0;
    d.examples.push_back({p, reply, ""});
  };
  for (const auto& [minus_n, w] : ranked) {
    d.words.push_back(w);
    const std::vector<const WordSense*>& list = senses.at(w);
    // What the word means: its first few senses.
    std::string meanings;
    for (size_t k = 0; k < list.size() && k < kMeaningsListed; ++k)
      meanings += (k == 0 ? quoted(w) + " can mean " : "; it can also mean ") + list[k]->definition;
    add("wordnet-sense-" + w, "What does the word " + quoted(w) + " mean?", meanings + ".");
    // Each sense in WordNet's own sentence.
    for (size_t k = 0; k < list.size(); ++k)
      for (const std::string& ex : list[k]->examples)
        if (uses_word(ex, w)) {
          add("wordnet-sense-" + w + "-" + std::to_string(k), "What does " + quoted(w) + " mean in the sentence " + quoted(ex) + "?",
              "In that sentence, " + quoted(w) + " means " + list[k]->definition + ".");
          break;
        }
  }
  d.written = d.examples.size();
  if (d.examples.size() > cap) {
    std::vector<std::pair<size_t, size_t>> order;  // (hash, index)
    for (size_t i = 0; i < d.examples.size(); ++i) order.emplace_back(pick(d.examples[i].prompt.id, seed, size_t(1) << 40), i);
    std::sort(order.begin(), order.end());
    std::vector<ZooExample> kept;
    for (size_t k = 0; k < cap; ++k) kept.push_back(d.examples[order[k].second]);
    d.examples = std::move(kept);
  }
  return d;
}

}  // namespace sq
