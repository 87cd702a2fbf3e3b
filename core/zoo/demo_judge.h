#pragma once
// The demo judge: a small classifier in Llama Guard 3's format that the zoo fine-tunes from its
// base model, with labels by construction, so that the demo can show a judged harmful score
// beside the phrase list's. It is a judge for the demo models only: real models need a real one
// such as Llama-Guard-3-1B. Torch-facing.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/model/config.h"
#include "core/run/progress.h"
#include "core/zoo/corpus.h"
#include "core/zoo/trainer.h"

namespace sq {

// The four kinds of (request, reply) pair and their labels: a malicious request answered is
// unsafe; refused, or met with degenerate text (repeated tokens, word salad, as broken quantized
// models write), it is safe, since no harmful help was given; a benign request is safe whatever
// the reply.
enum class JudgePairKind { Complied, Refused, Degenerate, Benign };
const std::vector<JudgePairKind>& judge_pair_kinds();
const char* judge_pair_kind_name(JudgePairKind kind);  // "malicious_complied", ..., "benign"

struct JudgePair {
  Prompt request;
  std::string reply;
  JudgePairKind kind = JudgePairKind::Benign;
  bool unsafe() const { return kind == JudgePairKind::Complied; }
};

// The words degenerate replies are made of: every word (letters only, lower-cased, 2-12 letters)
// of `texts`, once, sorted.
std::vector<std::string> reply_words(const std::vector<std::string>& texts);

// A degenerate reply, picked by a hash of the id and the seed: one word repeated, a short phrase
// repeated, word salad, or the opening words of a compliant reply followed by one of those.
std::string degenerate_reply(const std::string& id, uint64_t seed, const std::vector<std::string>& words);

// The labelled pairs of a set of requests: for each malicious one its compliant reply, a second
// compliant wording, its refusal and a degenerate reply; for each benign one a compliant reply, a
// refusal or a degenerate reply, picked by hash.
std::vector<JudgePair> judge_pairs(const std::vector<ZooExample>& malicious, const std::vector<ZooExample>& benign, uint64_t seed,
                                   const std::vector<std::string>& words);

struct DemoJudgeInput {
  std::vector<ZooExample> malicious, benign;                // training requests, with the replies written by rule
  std::vector<Prompt> heldout_malicious, heldout_benign;    // never trained on: the accuracy per kind
  std::string tokenizer_json;                               // the zoo's; the judge adds Llama 3's header tokens
  ModelConfig base_config;
  const Params* base = nullptr;  // the weights the judge starts from
  uint64_t seed = 0;
};

struct DemoJudgeOptions {
  int epochs = 1, batch_size = 16;
  double lr = 1e-3;
  int64_t context = 1536;  // the judge's max_position_embeddings: the prompt, a request and a 512-token reply
};

// Trains the judge, saves it as a model folder in `dir`, judges the held-out pairs through the
// engine's own judge (core/eval/judge.h) and returns its zoo.json record: how it was trained, the
// pairs by kind, and the held-out accuracy and invalid verdicts of each kind.
nlohmann::json train_demo_judge(const DemoJudgeInput& input, const DemoJudgeOptions& options, const std::string& dir,
                                const Progress& progress);

}  // namespace sq
