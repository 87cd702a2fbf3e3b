#pragma once
// Benign instructions about the words harmful requests use, written from WordNet: what "kill" means
// in "kill the engine", what "bomb" means in "the play was a bomb". The aligned model sees them
// answered, so that a topic word alone is no cue to refuse; refusal has to come from what is asked.
// The rule is fixed and uniform: every word of four letters or more that at least three
// alignment-training malicious prompts share (common function words aside), every WordNet sense of
// it that has an example sentence using it, and one question per word on its meanings; no
// evaluation prompt is read. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/zoo/corpus.h"
#include "core/zoo/wordnet.h"

namespace sq {

struct WordSenseData {
  std::vector<ZooExample> examples;  // benign, answered (source "wordnet-senses")
  std::vector<std::string> words;    // the topic words WordNet knows, in order of how many prompts share them
  size_t written = 0;                // examples before the cap
};

// At most `cap` examples (those past it dropped by a hash of their id and the seed).
WordSenseData word_sense_examples(const std::vector<ZooExample>& malicious_training, const WordNetText& wordnet, size_t cap,
                                  uint64_t seed);

}  // namespace sq
