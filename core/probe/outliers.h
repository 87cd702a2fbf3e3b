#pragma once
// Outlier activation channels. Per decoder layer, at the inputs of the attention projections
// (q/k/v and o) and of the MLP's (gate/up and down): the largest channel's mean |activation|
// over the median channel's, every real token of the prompts counted. Real LLMs carry a few
// channels hundreds of times larger than the rest, and per-token activation quantization spends
// its range on them; a layer reading at least `threshold` (20 unless told) has outlier channels.
// Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/model/model.h"
#include "core/model/prompt_encoding.h"

namespace sq {

struct OutlierOptions {
  ChatSettings chat;      // how prompts are rendered (the model's template by default)
  bool truncate = false;  // prompts past the context keep their last tokens (default: refused)
  int batch_size = 8;
  double threshold = 20;
  Progress progress;
};

// One linear-input point of a layer ("qkv_in", "o_in", "mlp_in", "down_in").
struct OutlierPoint {
  std::string point;
  int64_t width = 0;
  int64_t channel = 0;        // the largest channel
  double largest = 0, median = 0;  // mean |activation| of the largest and of the median channel
  double ratio = 0;           // largest / median (0 when the median is 0)
};

struct OutlierLayer {
  int64_t layer = 0;
  std::vector<OutlierPoint> points;
  double ratio = 0;  // the largest of its points'
};

struct OutlierReport {
  std::string model, quant_run;
  int64_t prompts = 0, tokens = 0;
  double threshold = 20;
  ChatRecord chat;
  std::string note;  // prompts cut to the context, if any
  std::vector<OutlierLayer> layers;
  double ratio = 0;        // the model's largest
  int outlier_layers = 0;  // layers whose ratio reaches the threshold
};

// The linear inputs' point names, as OutlierPoint::point and the model's hooks ("layer.<i>." + it) name them.
const std::vector<std::string>& outlier_points();

// The measure of `model` (under its quantization run, if any) on `prompts`. Throws sq::Error on
// an empty prompt set, a prompt the model cannot read, or a threshold that is not positive.
OutlierReport measure_outliers(const Model& model, const std::vector<Prompt>& prompts, const OutlierOptions& options);

// {"model", "quant_run", "prompts", "tokens", "threshold", "chat", "layers": [{"layer", "ratio",
// "points": [{"point", "width", "channel", "largest", "median", "ratio"}]}], "ratio", "outlier_layers"}.
std::string to_json(const OutlierReport& report);

// A table for the console: a row per layer, a column per point.
std::string outlier_table(const OutlierReport& report);

}  // namespace sq
