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

// Throws sq::Error naming the file, the line and the problem; an empty set is an error. A prompt
// without a "source" gets its file's stem, so every prompt names where it came from.
std::vector<Prompt> load_prompts(const std::string& path);
// Several files, ids unique across them (a missing id becomes "<file stem>-<line>").
std::vector<Prompt> load_prompt_files(const std::vector<std::string>& paths);
// Writes the prompts as JSONL (id, prompt, label, source, and answer and category when set),
// atomically; load_prompts reads them back the same.
void write_prompts(const std::string& path, const std::vector<Prompt>& prompts);

struct Split {
  std::vector<size_t> train, test;  // indices into the prompt list, each in ascending order
};

// A stable 64-bit hash of (seed, id) with full avalanche (every input bit flips each output bit
// with probability 1/2, so ids sharing a prefix land far apart): the one source of "random but
// reproducible" order for splits, folds, calibration draws and the demo zoo.
uint64_t id_hash(const std::string& id, uint64_t seed);

// Prompts are stratified by (label, source): a split or a draw keeps each stratum's share of its
// label within one prompt of its proportion in the population.
struct Stratum {
  int label = 0;
  std::string source;
  size_t population = 0, drawn = 0;  // prompts of this stratum, and how many were taken
};

// Splits `count` among strata of the given sizes in proportion to them (largest remainder, so
// each gets floor or ceil of its exact share; ties go to the larger stratum, then the earlier).
std::vector<size_t> apportion(const std::vector<size_t>& sizes, size_t count);

// `count` prompts of one label, apportioned among its sources, each source's first in hash order
// of (seed, id). Indices ascending. A count above the label's size takes them all.
std::vector<size_t> stratified_draw(const std::vector<Prompt>& prompts, int label, size_t count, uint64_t seed);

// Deterministic stratified split: per label, the held-out count is `test_share` of it (rounded,
// at least one when the label has two or more); it is apportioned among the label's sources,
// and within a source the prompts first in hash order of (seed, id) are held out. The same ids
// and seed give the same split whatever the file order.
Split stratified_split(const std::vector<Prompt>& prompts, double test_share = 0.2, uint64_t seed = 0);

// The (label, source) strata of `prompts`, with `drawn` counting the prompts whose index is in
// `chosen`; ordered by label (malicious first), then source.
std::vector<Stratum> strata_of(const std::vector<Prompt>& prompts, const std::vector<size_t>& chosen);

// [{"label": "malicious"|"benign", "source", "prompts": population, <drawn_key>: drawn}, ...] as
// JSON text, for run.json's calibration draw and probe.json's split.
std::string strata_json(const std::vector<Stratum>& strata, const std::string& drawn_key);

// k folds for cross-validation, stratified by (label, source): fold[i] in [0, k) for each prompt.
// Within each label, strata in order and each stratum in hash order of (seed, id) are dealt out
// round-robin, so every fold holds floor or ceil of 1/k of each stratum and of each label.
std::vector<int> stratified_folds(const std::vector<Prompt>& prompts, int k, uint64_t seed = 0);

}  // namespace sq
