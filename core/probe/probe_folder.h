#pragma once
// A probe folder: probe.json (each layer's probe, its held-out and cross-validated figures, the
// split, and the compared models' scores), comparison.json (the compared models' scores alone),
// projection.json and projection.csv (every prompt's 2D points per layer and method, for the
// reference and each compared model), beside activations*.safetensors. This file writes and
// reads the JSON and CSV; the probing stage, the quantizer, the studio and the benches use the
// types only. Torch-free.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"

namespace sq {

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

// A model compared with the reference: its label, its folder, and the quantization run it was
// loaded with (empty: full precision).
struct ComparedModel {
  std::string label, model, quant_run;
};

struct ComparedProbes : ComparedModel {
  std::vector<ProbeScore> layers;
};

struct ProbeReport {
  std::vector<LayerProbe> layers;
  std::vector<ComparedProbes> compared;  // per compared model, in the options' order
  std::vector<std::string> train_ids, test_ids;
  std::vector<Stratum> split_strata;  // per (label, source): prompts and how many were held out
  std::vector<std::vector<std::string>> cv_folds;  // each fold's held-out ids; empty without CV
  std::string model;  // the folder (or file) of the model the probes were fitted on
  std::string chat_template, chat_system, chat_date, pooling, note;
  double C = 1.0;
  bool penalize_intercept = false;
  int iterations = 0;
};

// Writes DIR/probe.json and, with compared models, DIR/comparison.json, atomically.
void write_probe_report(const std::string& dir, const ProbeReport& report);
std::string to_json(const ProbeReport& report);
// Reads DIR/probe.json; sq::Error names the file and the key. A folder that does not say which
// model its probes were fitted on, or holds none, is refused.
ProbeReport read_probe_report(const std::string& dir);

// The 2D maps, each with a name in projection.json and one in projection.csv.
enum class ProjectionMethod { Pca, ProbePlane, Tsne };
struct ProjectionMethodInfo {
  ProjectionMethod method;
  const char* key;  // projection.json: "probe_plane"
  const char* csv;  // projection.csv's method column: "probe-plane"
};
const std::vector<ProjectionMethodInfo>& projection_methods();
const ProjectionMethodInfo& info(ProjectionMethod method);

struct Projection {
  using Points = std::vector<std::array<float, 2>>;  // one per prompt, in the prompts' order
  using Maps = std::map<ProjectionMethod, Points>;
  struct Layer {
    Maps reference;
    std::vector<Maps> compared;  // per compared model, in the same bases as the reference
    std::string probe_plane_note;
  };
  std::vector<std::string> ids, split;  // split: "train" | "test"
  std::vector<int> labels;
  std::vector<ComparedModel> compared;
  std::vector<Layer> layers;
  std::string note;
};

// Writes DIR/projection.json and DIR/projection.csv atomically.
void write_projection(const std::string& dir, const Projection& projection);
// Reads DIR/projection.json; sq::Error names the file when a list's length disagrees with the
// prompts'.
Projection read_projection(const std::string& dir);

}  // namespace sq
