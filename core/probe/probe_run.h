#pragma once
// The probing stage end to end: capture last-token (or mean) states of every layer for a labelled
// prompt set, split it 80/20 stratified by label and source, fit one SLR probe per layer, score
// the held-out part, cross-validate the same fit over k folds (all folds of all layers in one
// solver call), project to 2D, and write the probe folder (probe_folder.h) with the activations
// beside it. Plain C++: the CLI and the GUI call it alike.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/model/model.h"
#include "core/probe/probe_folder.h"
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
  ChatSettings chat;       // the model's chat template by default
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

// Runs the stage and, when out_dir is not empty, writes its files there: staged beside it and
// moved into place when all is written, so a failure, a cancel or a kill leaves the previous
// folder or the new one, never a part.
ProbeReport run_probe(const Model& model, const std::vector<Prompt>& prompts, const ProbeOptions& options,
                      const std::string& out_dir);

// A compared model's label made from a name (a folder's): characters a label may not hold become '-'.
std::string probe_label(std::string name);

}  // namespace sq
