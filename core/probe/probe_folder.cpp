#include "core/probe/probe_folder.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json scores_json(const std::vector<ProbeScore>& layers) {
  json out = json::array();
  for (size_t l = 0; l < layers.size(); ++l) {
    const ProbeScore& s = layers[l];
    out.push_back({{"layer", l},
                   {"accuracy", s.accuracy},
                   {"balanced_accuracy", s.balanced_accuracy},
                   {"auc", s.auc},
                   {"margin", s.margin},
                   {"malicious_side", s.malicious_side}});
  }
  return out;
}

ComparedModel compared_model(const json& c, const std::string& path) {
  return {json_field<std::string>(c, "label", path), json_field<std::string>(c, "model", path), json_field_or<std::string>(c, "quant_run", path, "")};
}

FoldScore fold_score(const json& cv, const char* key, const std::string& path) {
  const json s = json_field<json>(cv, key, path);
  return {json_field<double>(s, "mean", path), json_field<double>(s, "std", path)};
}

json points_json(const Projection::Points& xy) {
  json out = json::array();
  for (const auto& p : xy) out.push_back({p[0], p[1]});
  return out;
}

json maps_json(const Projection::Maps& maps) {
  json out = json::object();
  for (const auto& [m, xy] : maps) out[info(m).key] = points_json(xy);
  return out;
}

Projection::Maps maps_from(const json& j, size_t n, const std::string& path) {
  Projection::Maps out;
  for (const ProjectionMethodInfo& m : projection_methods()) {
    if (!j.contains(m.key)) continue;
    Projection::Points xy;
    for (const json& p : json_field<json>(j, m.key, path)) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
        throw Error(path, std::string("\"") + m.key + "\": a point is not [x, y]");
      xy.push_back({p[0].get<float>(), p[1].get<float>()});
    }
    if (xy.size() != n)
      throw Error(path, std::string("\"") + m.key + "\" holds " + std::to_string(xy.size()) + " points for " + std::to_string(n) + " prompts");
    out[m.method] = std::move(xy);
  }
  return out;
}

}  // namespace

std::string to_json(const ProbeReport& r) {
  auto fold_score = [](const FoldScore& s) { return json{{"mean", s.mean}, {"std", s.std}}; };
  json layers = json::array();
  for (const LayerProbe& l : r.layers) {
    json layer = {{"layer", l.layer},
                  {"accuracy", l.accuracy},
                  {"balanced_accuracy", l.balanced_accuracy},
                  {"auc", l.auc},
                  {"margin", l.margin},
                  {"nonzero", l.nonzero},
                  {"train_accuracy", l.train_accuracy},
                  {"objective", l.objective},
                  {"b", l.b},
                  {"w", l.w}};
    if (!r.cv_folds.empty())
      layer["cv"] = {{"accuracy", fold_score(l.cv_accuracy)},
                     {"balanced_accuracy", fold_score(l.cv_balanced_accuracy)},
                     {"auc", fold_score(l.cv_auc)}};
    layers.push_back(std::move(layer));
  }
  json compared = json::array();
  for (const ComparedProbes& c : r.compared)
    compared.push_back({{"label", c.label}, {"model", c.model}, {"quant_run", c.quant_run}, {"layers", scores_json(c.layers)}});
  json out{{"model", r.model},
           {"layers", layers},
           {"compared", compared},
           {"split",
            {{"method", "stratified by label and source, hash of (seed, id)"},
             {"strata", json::parse(strata_json(r.split_strata, "test"))},
             {"train", r.train_ids},
             {"test", r.test_ids}}},
           {"pooling", r.pooling},
           {"chat_template", r.chat_template},
           {"chat_system", r.chat_system},
           {"chat_date", r.chat_date},
           {"solver",
            {{"objective", r.penalize_intercept ? "||w||_1 + |b| + C * sum log(1 + exp(-y (w.x + b))) (liblinear)"
                                                : "||w||_1 + C * sum log(1 + exp(-y (w.x + b))) (intercept free, as saga)"},
             {"C", r.C},
             {"iterations", r.iterations}}}};
  if (!r.cv_folds.empty())
    out["cv"] = {{"folds", r.cv_folds.size()},
                 {"method", "stratified by label and source, dealt round-robin in hash order of (seed, id)"},
                 {"spread", "population standard deviation over the folds"},
                 {"test", r.cv_folds}};
  if (!r.note.empty()) out["note"] = r.note;
  return out.dump();
}

void write_probe_report(const std::string& dir, const ProbeReport& report) {
  if (!report.compared.empty()) {
    json compared = json::array();
    for (const ComparedProbes& c : report.compared)
      compared.push_back({{"label", c.label}, {"model", c.model}, {"quant_run", c.quant_run}, {"layers", scores_json(c.layers)}});
    const json comparison = {{"reference", report.model},
                             {"probes", "fitted on the reference model, applied unchanged to each compared model's activations"},
                             {"compared", compared}};
    write_atomically((fs::path(dir) / "comparison.json").string(), [&](std::ostream& out) { out << comparison.dump(1) << "\n"; });
  }
  write_atomically((fs::path(dir) / "probe.json").string(), [&](std::ostream& out) { out << to_json(report) << "\n"; });
}

ProbeReport read_probe_report(const std::string& dir) {
  const std::string path = (fs::path(dir) / "probe.json").string();
  const json j = read_json_file(path);
  if (!j.is_object()) throw Error(path, "not a probe folder's probe.json: the top level is not an object");
  ProbeReport r;
  r.model = json_field_or<std::string>(j, "model", path, "");
  for (const json& l : json_field<json>(j, "layers", path)) {
    LayerProbe p;
    p.layer = json_field<int>(l, "layer", path);
    if (p.layer != int(r.layers.size())) throw Error(path, "layers must be listed in order from 0");
    p.w = json_field<std::vector<float>>(l, "w", path);
    p.b = json_field<float>(l, "b", path);
    if (!r.layers.empty() && p.w.size() != r.layers.front().w.size()) throw Error(path, "layer " + std::to_string(p.layer) + "'s probe has another width");
    p.accuracy = json_field_or<double>(l, "accuracy", path, 0.0);
    p.balanced_accuracy = json_field_or<double>(l, "balanced_accuracy", path, 0.0);
    p.auc = json_field_or<double>(l, "auc", path, 0.0);
    p.margin = json_field_or<double>(l, "margin", path, 0.0);
    p.nonzero = json_field_or<int64_t>(l, "nonzero", path, 0);
    p.train_accuracy = json_field_or<double>(l, "train_accuracy", path, 0.0);
    p.objective = json_field_or<double>(l, "objective", path, 0.0);
    if (const json cv = json_field_or<json>(l, "cv", path, json()); cv.is_object()) {
      p.cv_accuracy = fold_score(cv, "accuracy", path);
      p.cv_balanced_accuracy = fold_score(cv, "balanced_accuracy", path);
      p.cv_auc = fold_score(cv, "auc", path);
    }
    r.layers.push_back(std::move(p));
  }
  if (r.layers.empty()) throw Error(path, "holds no probes");
  if (r.model.empty()) throw Error(path, "does not say which model its probes were fitted on (written before probe folders recorded it)");
  for (const json& c : json_field_or<json>(j, "compared", path, json::array())) {
    ComparedProbes cp{compared_model(c, path), {}};
    for (const json& l : json_field<json>(c, "layers", path))
      cp.layers.push_back({json_field<double>(l, "accuracy", path), json_field<double>(l, "balanced_accuracy", path), json_field<double>(l, "auc", path),
                           json_field<double>(l, "margin", path), json_field_or<double>(l, "malicious_side", path, 0.0)});
    if (cp.layers.size() != r.layers.size()) throw Error(path, "compared model '" + cp.label + "' is scored on another number of layers");
    r.compared.push_back(std::move(cp));
  }
  if (const json split = json_field_or<json>(j, "split", path, json()); split.is_object()) {
    r.train_ids = json_field_or<std::vector<std::string>>(split, "train", path, {});
    r.test_ids = json_field_or<std::vector<std::string>>(split, "test", path, {});
    for (const json& s : json_field_or<json>(split, "strata", path, json::array()))
      r.split_strata.push_back({json_field<std::string>(s, "label", path) == "malicious" ? 1 : 0, json_field<std::string>(s, "source", path),
                                json_field<size_t>(s, "prompts", path), json_field<size_t>(s, "test", path)});
  }
  r.pooling = json_field_or<std::string>(j, "pooling", path, "");
  r.chat_template = json_field_or<std::string>(j, "chat_template", path, "");
  r.chat_system = json_field_or<std::string>(j, "chat_system", path, "");
  r.chat_date = json_field_or<std::string>(j, "chat_date", path, "");
  if (const json solver = json_field_or<json>(j, "solver", path, json()); solver.is_object()) {
    r.C = json_field_or<double>(solver, "C", path, 1.0);
    r.iterations = json_field_or<int>(solver, "iterations", path, 0);
    r.penalize_intercept = json_field_or<std::string>(solver, "objective", path, "").find("liblinear") != std::string::npos;
  }
  if (const json cv = json_field_or<json>(j, "cv", path, json()); cv.is_object())
    r.cv_folds = json_field<std::vector<std::vector<std::string>>>(cv, "test", path);
  r.note = json_field_or<std::string>(j, "note", path, "");
  return r;
}

const std::vector<ProjectionMethodInfo>& projection_methods() {
  static const std::vector<ProjectionMethodInfo> table = {
      {ProjectionMethod::Pca, "pca", "pca"},
      {ProjectionMethod::ProbePlane, "probe_plane", "probe-plane"},
      {ProjectionMethod::Tsne, "tsne", "tsne"},
  };
  return table;
}

const ProjectionMethodInfo& info(ProjectionMethod method) { return projection_methods()[size_t(method)]; }

void write_projection(const std::string& dir, const Projection& p) {
  json j = {{"ids", p.ids}, {"labels", p.labels}, {"split", p.split}, {"layers", json::array()}, {"compared", json::array()}};
  for (const ComparedModel& c : p.compared) j["compared"].push_back({{"label", c.label}, {"model", c.model}, {"quant_run", c.quant_run}});
  std::string csv = "id,label,split,layer,model,method,x,y\n";
  auto add_csv = [&](size_t l, const std::string& who, const Projection::Maps& maps) {
    for (const auto& [m, xy] : maps)
      for (size_t i = 0; i < xy.size(); ++i)
        csv += "\"" + p.ids[i] + "\"," + std::to_string(p.labels[i]) + "," + p.split[i] + "," + std::to_string(l) + "," + who + "," +
               info(m).csv + "," + std::to_string(xy[i][0]) + "," + std::to_string(xy[i][1]) + "\n";
  };
  for (size_t l = 0; l < p.layers.size(); ++l) {
    const Projection::Layer& layer = p.layers[l];
    json lj = maps_json(layer.reference);
    lj["layer"] = l;
    lj["compared"] = json::array();
    for (const Projection::Maps& c : layer.compared) lj["compared"].push_back(maps_json(c));
    if (!layer.probe_plane_note.empty()) lj["probe_plane_note"] = layer.probe_plane_note;
    j["layers"].push_back(std::move(lj));
    add_csv(l, "reference", layer.reference);
    for (size_t c = 0; c < layer.compared.size(); ++c) add_csv(l, p.compared[c].label, layer.compared[c]);
  }
  if (!p.note.empty()) j["note"] = p.note;
  write_atomically((fs::path(dir) / "projection.json").string(), [&](std::ostream& out) { out << j.dump() << "\n"; });
  write_atomically((fs::path(dir) / "projection.csv").string(), [&](std::ostream& out) { out << csv; });
}

Projection read_projection(const std::string& dir) {
  const std::string path = (fs::path(dir) / "projection.json").string();
  const json j = read_json_file(path);
  if (!j.is_object()) throw Error(path, "not a projection: the top level is not an object");
  Projection p;
  p.ids = json_field<std::vector<std::string>>(j, "ids", path);
  p.labels = json_field<std::vector<int>>(j, "labels", path);
  p.split = json_field<std::vector<std::string>>(j, "split", path);
  const size_t n = p.ids.size();
  if (p.labels.size() != n || p.split.size() != n) throw Error(path, "\"ids\", \"labels\" and \"split\" differ in length");
  for (const json& c : json_field_or<json>(j, "compared", path, json::array())) p.compared.push_back(compared_model(c, path));
  for (const json& l : json_field<json>(j, "layers", path)) {
    Projection::Layer layer;
    layer.reference = maps_from(l, n, path);
    for (const json& c : json_field_or<json>(l, "compared", path, json::array())) layer.compared.push_back(maps_from(c, n, path));
    if (layer.compared.size() != p.compared.size()) throw Error(path, "a layer's compared maps differ in number from \"compared\"");
    layer.probe_plane_note = json_field_or<std::string>(l, "probe_plane_note", path, "");
    p.layers.push_back(std::move(layer));
  }
  p.note = json_field_or<std::string>(j, "note", path, "");
  return p;
}

}  // namespace sq
