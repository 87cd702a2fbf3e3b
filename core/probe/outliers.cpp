#include "core/probe/outliers.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sq {

const std::vector<std::string>& outlier_points() {
  static const std::vector<std::string> points = {"qkv_in", "o_in", "mlp_in", "down_in"};
  return points;
}

namespace {

double median_of(std::vector<double> v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(mid), v.end());
  if (v.size() % 2) return v[mid];
  const double upper = v[mid];
  return (*std::max_element(v.begin(), v.begin() + std::ptrdiff_t(mid)) + upper) / 2;
}

OutlierPoint point_of(const std::string& name, const std::vector<double>& mean_abs) {
  OutlierPoint p;
  p.point = name;
  p.width = int64_t(mean_abs.size());
  const auto top = std::max_element(mean_abs.begin(), mean_abs.end());
  p.channel = int64_t(top - mean_abs.begin());
  p.largest = *top;
  p.median = median_of(mean_abs);
  p.ratio = p.median > 0 ? p.largest / p.median : 0;
  return p;
}

}  // namespace

OutlierReport measure_outliers(const Model& model, const std::vector<Prompt>& prompts, const OutlierOptions& o) {
  if (prompts.empty()) throw Error("no prompts to measure outlier channels on");
  if (!(o.threshold > 0)) throw Error("the outlier threshold must be positive");
  OutlierReport r;
  r.model = model.dir();
  r.quant_run = model.quant_run();
  r.threshold = o.threshold;
  r.prompts = int64_t(prompts.size());
  std::vector<std::vector<int32_t>> encoded = encode_prompts(model, prompts, o.chat, &r.chat);
  if (o.truncate)
    if (const size_t cut = keep_last_tokens(encoded, size_t(model.config().max_position_embeddings)))
      r.note = std::to_string(cut) + " prompts longer than the model's context kept their last " +
               std::to_string(model.config().max_position_embeddings) + " tokens";
  CaptureOptions co;
  co.batch_size = o.batch_size;
  co.progress = o.progress;
  for (int64_t i = 0; i < model.config().num_layers; ++i)
    for (const std::string& p : outlier_points()) co.points.push_back("layer." + std::to_string(i) + "." + p);
  const ChannelMagnitudes m = model.channel_magnitudes(encoded, co);
  r.tokens = m.tokens;
  for (int64_t i = 0; i < model.config().num_layers; ++i) {
    OutlierLayer l;
    l.layer = i;
    for (const std::string& p : outlier_points()) {
      l.points.push_back(point_of(p, m.mean_abs.at("layer." + std::to_string(i) + "." + p)));
      l.ratio = std::max(l.ratio, l.points.back().ratio);
    }
    r.ratio = std::max(r.ratio, l.ratio);
    r.outlier_layers += l.ratio >= o.threshold;
    r.layers.push_back(std::move(l));
  }
  return r;
}

std::string to_json(const OutlierReport& r) {
  using nlohmann::json;
  json layers = json::array();
  for (const OutlierLayer& l : r.layers) {
    json points = json::array();
    for (const OutlierPoint& p : l.points)
      points.push_back({{"point", p.point}, {"width", p.width}, {"channel", p.channel}, {"largest", p.largest},
                        {"median", p.median}, {"ratio", p.ratio}});
    layers.push_back({{"layer", l.layer}, {"ratio", l.ratio}, {"points", points}});
  }
  json j = {{"measure", "per layer, the largest channel's mean |activation| over the median channel's at the inputs of "
                        "the attention and MLP projections, every real token counted"},
            {"model", r.model},
            {"quant_run", r.quant_run},
            {"prompts", r.prompts},
            {"tokens", r.tokens},
            {"chat", {{"template", r.chat.template_name}, {"system", r.chat.system}, {"date", r.chat.date}}},
            {"threshold", r.threshold},
            {"layers", layers},
            {"ratio", r.ratio},
            {"outlier_layers", r.outlier_layers}};
  if (!r.note.empty()) j["note"] = r.note;
  return j.dump(2);
}

std::string outlier_table(const OutlierReport& r) {
  std::string out = "layer";
  for (const std::string& p : outlier_points()) {
    char cell[32];
    std::snprintf(cell, sizeof cell, "  %16s", p.c_str());
    out += cell;
  }
  out += "   (largest channel's mean |activation| / the median channel's [channel])\n";
  for (const OutlierLayer& l : r.layers) {
    char row[64];
    std::snprintf(row, sizeof row, "%5lld", (long long)l.layer);
    out += row;
    for (const OutlierPoint& p : l.points) {
      std::snprintf(row, sizeof row, "  %9.1f [%4lld]", p.ratio, (long long)p.channel);
      out += row;
    }
    out += l.ratio >= r.threshold ? "  outliers\n" : "\n";
  }
  char tail[256];
  std::snprintf(tail, sizeof tail, "largest %.1f; %d of %zu layers reach %g (%lld prompts, %lld tokens)\n", r.ratio, r.outlier_layers,
                r.layers.size(), r.threshold, (long long)r.prompts, (long long)r.tokens);
  return out + tail;
}

}  // namespace sq
