#pragma once
// Labelled prompt sets: JSONL files with one {"prompt", "label", optional "id", "answer",
// "category", "source"} object per line (CSV with a header row naming the same columns is read
// too). Labels are "malicious" (1) or "benign" (0).
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

struct Prompt {
  std::string id, text, source, category, answer;
  int label = 0;  // 1 = malicious
};

// Throws sq::Error naming the file, the line and the problem; an empty set is an error.
std::vector<Prompt> load_prompts(const std::string& path);
// Several files, ids unique across them (a missing id becomes "<file stem>-<line>").
std::vector<Prompt> load_prompt_files(const std::vector<std::string>& paths);

struct Split {
  std::vector<size_t> train, test;  // indices into the prompt list, each in ascending order
};

// A stable 64-bit hash of (seed, id): the one source of "random but reproducible" order for
// splits, calibration draws and the demo zoo.
uint64_t id_hash(const std::string& id, uint64_t seed);

// Deterministic stratified split: within each label, prompts are ordered by a hash of
// (seed, id) and the first `test_share` of them (rounded, at least one when the label has two or
// more) are held out. The same ids and seed give the same split whatever the file order.
Split stratified_split(const std::vector<Prompt>& prompts, double test_share = 0.2, uint64_t seed = 0);

}  // namespace sq
