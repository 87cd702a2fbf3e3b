#pragma once
// WordNet 3.0 (Princeton University; Debian's wordnet-base installs it in /usr/share/wordnet) read
// from its database files and written out as plain English sentences: what each word means, what
// kind of thing it is, what else it is called, and WordNet's own example sentences. The demo
// base model is pre-trained on these before any instruction, so that it has met "a detonator is
// a kind of explosive device" and "methamphetamine is a kind of amphetamine" before it learns to
// refuse. Plain C++.
#include <cstddef>
#include <string>
#include <vector>

namespace sq {

// A synset's words (lower-case as WordNet keeps most of them, "_" as spaces), what it means and
// WordNet's example sentences.
struct WordSense {
  std::vector<std::string> lemmas;
  std::string definition;
  std::vector<std::string> examples;
};

struct WordNetText {
  std::string dir;                     // where the data files were read
  // One paragraph per synset, in the files' order (nouns, verbs, adjectives, adverbs).
  std::vector<std::string> paragraphs;
  std::vector<WordSense> senses;       // every synset, in the same order
};

// The folder holding WordNet's data.noun, data.verb, data.adj and data.adv: $SAFEQUANT_WORDNET
// when set, else /usr/share/wordnet. Throws, saying how to install it, when the files are absent.
std::string wordnet_dir();

// Every synset's paragraph. A malformed line is refused with its file and line number.
WordNetText read_wordnet(const std::string& dir);

}  // namespace sq
