#pragma once
// The probing stage end to end: capture last-token (or mean) states of every layer for a labelled
// prompt set, split it 80/20 stratified by label and source, fit one SLR probe per layer, score
// the held-out part, cross-validate the same fit over k folds (all folds of all layers in one
// solver call), project to 2D, and write activations.safetensors, probe.json, projection.json and
// projection.csv. Plain C++: the CLI and the GUI call it alike.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/model/model.h"
#include "core/run/progress.h"

namespace sq {

struct ProbeOptions {
  double C = 1.0;
  bool penalize_intercept = false;  // liblinear's |b| penalty; default: the intercept is free (saga)
  bool standardize = false;
  double test_share = 0.2;
  int cv_folds = 5;  // k-fold cross-validation beside the single split; 0 turns it off
  uint64_t seed = 0;
  bool mean_pool = false;  // pool over the prompt instead of its last token
  bool chat = true;        // wrap prompts in the model's chat template
  bool tsne = false;       // also t-SNE every layer (slow beyond a few thousand points)
  bool replace = false;    // an existing probe folder at the output is replaced (and only that)
  int batch_size = 8;
  // With a quantized model: its activations of the same prompts are scored with the probes and
  // projected in the bases fitted on `model` (the full-precision reference), so before and after
  // share axes; comparison.json, activations_quantized.safetensors and the *_quantized
  // projections are written too.
  const Model* quantized = nullptr;
  Progress progress;
};

// A cross-validated score: mean and (population) standard deviation over the folds.
struct FoldScore {
  double mean = 0, std = 0;
};

struct LayerProbe {
  int layer = 0;
  double accuracy = 0, balanced_accuracy = 0, auc = 0, margin = 0, train_accuracy = 0, objective = 0;
  FoldScore cv_accuracy, cv_balanced_accuracy, cv_auc;  // when cross-validated
  int64_t nonzero = 0;
  std::vector<float> w;
  float b = 0;
};

struct QuantizedProbe {
  double accuracy = 0, balanced_accuracy = 0, auc = 0, margin = 0;  // the FP probe on quantized activations
};

struct ProbeReport {
  std::vector<LayerProbe> layers;
  std::vector<QuantizedProbe> quantized;  // per layer, when a quantized model was given
  std::vector<std::string> train_ids, test_ids;
  std::vector<Stratum> split_strata;  // per (label, source): prompts and how many were held out
  std::vector<std::vector<std::string>> cv_folds;  // each fold's held-out ids; empty without CV
  std::string model;  // the folder (or file) of the model the probes were fitted on
  std::string chat_template, pooling, note;
  double C = 1.0;
  bool penalize_intercept = false;
  int iterations = 0;
};

// Runs the stage and, when out_dir is not empty, writes its files there: staged beside it and
// moved into place when all is written, so a failure, a cancel or a kill leaves the previous
// folder or the new one, never a part.
ProbeReport run_probe(const Model& model, const std::vector<Prompt>& prompts, const ProbeOptions& options,
                      const std::string& out_dir);

std::string to_json(const ProbeReport& report);

// What a probe folder holds for reuse: the model its probes were fitted on, and each layer's
// probe with its figures. Reads probe.json; sq::Error names the file and the problem.
struct ProbeFolder {
  std::string model;
  std::vector<LayerProbe> layers;
};
ProbeFolder read_probe_folder(const std::string& dir);

// Prompts as the model sees them for probing: chat-templated when asked and recognised.
std::vector<std::vector<int32_t>> encode_prompts(const Model& model, const std::vector<Prompt>& prompts, bool chat,
                                                 std::string* template_name = nullptr);

}  // namespace sq
