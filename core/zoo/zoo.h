#pragma once
// `safequant zoo`: trains the demo models (base, aligned, finetuned, and the demo judge of
// core/zoo/demo_judge.h) from the shipped prompt sets, saves each in Hugging Face layout,
// measures them on held-out prompts with the project's own evaluator, probe and judge, and
// records everything in zoo.json. Plain C++.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/run/progress.h"

namespace sq {

// Training recipes beside the standard one, each changing the base model's training only (its
// pre-training too, when the preset has one). Registered before any was trained
// (docs/demo-models.md) as recipes known to grow outlier activation channels:
// LongBase: three times the epochs; NoEmbeddingDecay: AdamW's weight decay on the linear weights
// only (the norm gains never have any); FlatLr: no decay of the rate (cosine floor 1.0, not 0.1).
enum class ZooRecipe { Standard, LongBase, NoEmbeddingDecay, FlatLr };
const char* zoo_recipe_name(ZooRecipe recipe);  // "standard", "long-base", "no-embedding-decay", "flat-lr"
std::optional<ZooRecipe> zoo_recipe_from_name(const std::string& name);
std::string zoo_recipe_names();  // for messages

struct ZooOptions {
  std::string preset = "demo";  // one of zoo_presets()
  ZooRecipe recipe = ZooRecipe::Standard;
  std::string out;              // empty: the shipped zoo when it is this one, else default_zoo_dir(preset)
  uint64_t seed = 0;
  bool force = false;           // retrain even when a matching zoo is cached
  Progress progress;
};

struct ZooResult {
  std::string dir;
  bool reused = false;
  bool shipped = false;  // the zoo shipped with SafeQuant, used as it is
  std::vector<std::string> missed;            // the behaviour targets this zoo does not meet
  std::vector<std::string> premises_not_met;  // the demo's premises that do not hold (core/zoo/premises.h)
  std::string summary;              // a few lines for the console
};

// Trains the zoo in stages (data and tokenizer, the three roles with their dose ladders, the
// held-out measures and premises, the targets) and writes its folder; or reuses a cached one.
ZooResult build_zoo(const ZooOptions& options);

// What zoo.json says of a zoo, as its readers use it (the full record is for people to read).
struct ZooRecord {
  int format = 0;  // the training format; a zoo of another is retrained
  std::string preset;
  ZooRecipe recipe = ZooRecipe::Standard;  // zoo.json without "recipe": the standard one
  uint64_t seed = 0;
  double seconds = 0;  // how long training and measuring took: what makes one zoo's runs distinct from another's
  std::vector<std::string> missed, premises_not_met;
  std::string summary;
  std::map<std::string, std::string> fingerprints;  // model (and "tokenizer") -> SHA-256 of its file
};
// Reads DIR/zoo.json; sq::Error names the file and the key that is missing or ill-typed.
ZooRecord read_zoo_record(const std::string& dir);

// The presets: "tiny" (the tests' zoo), "demo" (the shipped one), "wordnet" (demo's model and
// recipe pre-trained on WordNet first) and "senses" (demo's, with benign questions on the senses
// of the words harmful requests use): candidates for a demo whose refusal generalizes.
const std::vector<std::string>& zoo_presets();
std::string zoo_preset_names();  // "tiny, demo, wordnet", for messages

// ~/.cache/safequant/zoo/<preset> (or under $XDG_CACHE_HOME), <preset>-<recipe> for a recipe
// other than the standard one.
std::string default_zoo_dir(const std::string& preset, ZooRecipe recipe = ZooRecipe::Standard);

// The zoo shipped with SafeQuant (zoo/<preset> beside the shipped data: share/safequant/zoo when
// installed, resources/zoo in the source tree), or empty when there is none.
std::string shipped_zoo_dir(const std::string& preset);

// The demo models every front end opens: the shipped zoo when its training format is this
// build's, else the user's cache (default_zoo_dir("demo")), trained there by `safequant zoo`.
std::string demo_zoo_dir();

// The SHA-256 of the files zoo.json fingerprints, as DIR holds them now: each model's
// model.safetensors (keyed by role) and the tokenizer.json ("tokenizer").
std::map<std::string, std::string> zoo_fingerprints(const std::string& dir);

}  // namespace sq
