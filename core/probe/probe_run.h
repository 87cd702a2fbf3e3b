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
  bool truncate = false;   // prompts beyond the model's context keep their last tokens; otherwise refused
  bool tsne = false;       // also t-SNE every layer (slow beyond a few thousand points)
  bool replace = false;    // an existing probe folder at the output is replaced (and only that)
  int batch_size = 8;
  // Other models of the same shape and vocabulary (a quantized run of the reference, a model it
  // drifted to such as a fine-tune, or that one quantized and realigned): their activations of
  // the same prompts, tokenized as for the reference, are scored with the probes and projected in
  // the bases fitted on `model` (the reference), so that all share its axes. comparison.json,
  // activations_<label>.safetensors and each layer's "compared" projections are written too.
  struct Compared {
    std::string label;  // letters, digits, '.', '_' or '-'; unique; not "reference" (see probe_label)
    const Model* model = nullptr;
  };
  std::vector<Compared> compared;
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

// The reference's probe of one layer scored on a compared model's held-out activations.
struct ProbeScore {
  double accuracy = 0, balanced_accuracy = 0, auc = 0, margin = 0;
  double malicious_side = 0;  // share of the held-out malicious prompts on the probe's malicious side
};

struct ComparedProbes {
  std::string label, model, quant_run;  // quant_run empty: the model in full precision
  std::vector<ProbeScore> layers;
};

struct ProbeReport {
  std::vector<LayerProbe> layers;
  std::vector<ComparedProbes> compared;  // per compared model, in the options' order
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

// A compared model's label made from a name (a folder's): characters a label may not hold become '-'.
std::string probe_label(std::string name);

// Cuts each prompt longer than `limit` tokens to its last `limit`, so that the chat template's
// assistant header and the request's end stay; returns how many were cut.
size_t keep_last_tokens(std::vector<std::vector<int32_t>>& prompts, size_t limit);

// Prompts as the model sees them for probing: chat-templated when asked and recognised.
std::vector<std::vector<int32_t>> encode_prompts(const Model& model, const std::vector<Prompt>& prompts, bool chat,
                                                 std::string* template_name = nullptr);

}  // namespace sq
