#include "core/probe/probe_run.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/io/staged_folder.h"
#include "core/model/chat_template.h"
#include "core/model/safetensors.h"
#include "core/probe/metrics.h"
#include "core/probe/projection.h"
#include "core/probe/slr.h"

namespace sq {
namespace {

using nlohmann::json;

constexpr int64_t kTsneLimit = 5000;

std::vector<float> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

json points(const torch::Tensor& xy) {
  json out = json::array();
  const torch::Tensor c = xy.contiguous();
  const float* p = c.data_ptr<float>();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back({p[2 * i], p[2 * i + 1]});
  return out;
}

bool label_char(char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-'; }

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

}  // namespace

size_t keep_last_tokens(std::vector<std::vector<int32_t>>& prompts, size_t limit) {
  size_t cut = 0;
  for (auto& p : prompts)
    if (p.size() > limit) {
      p.erase(p.begin(), p.end() - std::ptrdiff_t(limit));
      ++cut;
    }
  return cut;
}

std::vector<std::vector<int32_t>> encode_prompts(const Model& model, const std::vector<Prompt>& prompts, bool chat,
                                                 std::string* template_name) {
  ChatTemplate t;
  if (chat) t = model.chat_template();
  if (template_name) *template_name = t.name();
  std::vector<std::vector<int32_t>> out;
  for (const Prompt& p : prompts)
    out.push_back(t.format == ChatFormat::Raw ? model.tokenizer().encode(p.text, true)
                                              : model.tokenizer().encode(t.render(p.text), false));
  return out;
}

ProbeReport run_probe(const Model& model, const std::vector<Prompt>& prompts, const ProbeOptions& o,
                      const std::string& out_dir) {
  if (prompts.empty()) throw Error("the prompt set is empty");
  ProbeReport report;
  report.pooling = o.mean_pool ? "mean" : "last";
  report.C = o.C;
  report.model = std::filesystem::absolute(model.dir()).string();
  report.penalize_intercept = o.penalize_intercept;
  const Split split = stratified_split(prompts, o.test_share, o.seed);
  int64_t train_pos = 0;
  for (size_t i : split.train) train_pos += prompts[i].label;
  if (train_pos == 0 || train_pos == int64_t(split.train.size()))
    throw Error("probing needs malicious and benign prompts (the training split has only one label)");
  std::vector<std::string> inputs = {model.dir()};
  for (size_t c = 0; c < o.compared.size(); ++c) {
    const ProbeOptions::Compared& cm = o.compared[c];
    const std::string& label = cm.label;
    if (label.empty() || label == "reference" ||
        !std::all_of(label.begin(), label.end(), label_char))
      throw Error("compared model label '" + label + "': use letters, digits, '.', '_' or '-', and not \"reference\"");
    for (size_t d = 0; d < c; ++d)
      if (o.compared[d].label == label) throw Error("compared model label '" + label + "' is given twice");
    const ModelConfig &a = model.config(), &b = cm.model->config();
    if (a.num_layers != b.num_layers || a.hidden_size != b.hidden_size || a.vocab_size != b.vocab_size)
      throw Error(cm.model->dir(), "compared as '" + label + "': its shape (" + std::to_string(b.num_layers) + " layers of " +
                                       std::to_string(b.hidden_size) + ", vocabulary " + std::to_string(b.vocab_size) +
                                       ") differs from the reference model's (" + std::to_string(a.num_layers) + " of " +
                                       std::to_string(a.hidden_size) + ", " + std::to_string(a.vocab_size) + ")");
    inputs.push_back(cm.model->dir());
    inputs.push_back(cm.model->quant_run());
  }
  // Before the work, so an output that may not be written fails at once.
  std::optional<StagedFolder> folder;
  if (!out_dir.empty()) folder.emplace(out_dir, OutputKind::Probe, o.replace, inputs);
  for (size_t i : split.train) report.train_ids.push_back(prompts[i].id);
  for (size_t i : split.test) report.test_ids.push_back(prompts[i].id);
  report.split_strata = strata_of(prompts, split.test);
  // k folds need k prompts of each label, so every fold holds both; fewer folds when a label is
  // smaller, none below two.
  const int64_t n_mal = std::count_if(prompts.begin(), prompts.end(), [](const Prompt& p) { return p.label == 1; });
  const int folds = int(std::min<int64_t>(o.cv_folds, std::min<int64_t>(n_mal, int64_t(prompts.size()) - n_mal)));
  std::vector<int> fold_of;
  if (o.cv_folds > 0 && folds >= 2) {
    fold_of = stratified_folds(prompts, folds, o.seed);
    report.cv_folds.resize(size_t(folds));
    for (size_t i = 0; i < prompts.size(); ++i) report.cv_folds[size_t(fold_of[i])].push_back(prompts[i].id);
    if (folds < o.cv_folds)
      report.note = std::to_string(folds) + "-fold cross-validation: a label has fewer than " + std::to_string(o.cv_folds) + " prompts";
  } else if (o.cv_folds > 0) {
    report.note = "no cross-validation: a label has fewer than 2 prompts";
  }

  CaptureOptions co;
  co.batch_size = o.batch_size;
  co.progress = o.progress;
  auto encoded = encode_prompts(model, prompts, o.chat, &report.chat_template);
  if (o.truncate)
    if (const size_t cut = keep_last_tokens(encoded, size_t(model.config().max_position_embeddings)))
      report.note += (report.note.empty() ? "" : "; ") + std::to_string(cut) + " prompts longer than the model's context kept their last " +
                     std::to_string(model.config().max_position_embeddings) + " tokens";
  // [layers, prompts, hidden] pooled states of one model.
  auto capture = [&](const Model& m) {
    const Activations acts = m.capture(encoded, co);
    const auto& pooled = o.mean_pool ? acts.mean : acts.last;
    torch::Tensor t = torch::empty({int64_t(acts.points.size()), acts.n, acts.hidden});
    for (int64_t l = 0; l < t.size(0); ++l)
      std::copy_n(pooled.at(acts.points[size_t(l)]).data(), acts.n * acts.hidden, t[l].data_ptr<float>());
    return t;
  };
  const torch::Tensor X = capture(model);
  const int64_t L = X.size(0), N = X.size(1), D = X.size(2);
  std::vector<torch::Tensor> Xc;  // each compared model's, in order
  for (const ProbeOptions::Compared& cm : o.compared) Xc.push_back(capture(*cm.model));
  std::vector<int64_t> label_vec;
  for (const Prompt& p : prompts) label_vec.push_back(p.label);
  const torch::Tensor y = torch::tensor(label_vec, torch::kInt64);
  const torch::Tensor train_idx = torch::tensor(std::vector<int64_t>(split.train.begin(), split.train.end()));
  const torch::Tensor test_idx = torch::tensor(std::vector<int64_t>(split.test.begin(), split.test.end()));

  SlrOptions so;
  so.C = o.C;
  so.standardize = o.standardize;
  so.penalize_intercept = o.penalize_intercept;
  // One solver call: the split's probe of every layer (problems 0..L-1), then every fold's.
  std::vector<SlrProblem> problems;
  for (int64_t l = 0; l < L; ++l) problems.push_back({l, std::vector<int64_t>(split.train.begin(), split.train.end())});
  for (int f = 0; f < int(report.cv_folds.size()); ++f) {
    std::vector<int64_t> rows;
    for (size_t i = 0; i < prompts.size(); ++i)
      if (fold_of[i] != f) rows.push_back(int64_t(i));
    for (int64_t l = 0; l < L; ++l) problems.push_back({l, rows});
  }
  const SlrFit all = fit_slr(X, y, problems, so, o.progress);
  report.iterations = all.iterations;
  SlrFit fit;  // the split's probes
  fit.w = all.w.narrow(0, 0, L);
  fit.b = all.b.narrow(0, 0, L);
  fit.objective = all.objective.narrow(0, 0, L);
  const torch::Tensor logits = torch::bmm(X, fit.w.unsqueeze(-1)).squeeze(-1) + fit.b.unsqueeze(-1);  // [L, N]
  std::vector<int> test_labels, train_labels;
  for (size_t i : split.test) test_labels.push_back(prompts[i].label);
  for (size_t i : split.train) train_labels.push_back(prompts[i].label);
  for (int64_t l = 0; l < L; ++l) {
    LayerProbe lp;
    lp.layer = int(l);
    const ProbeMetrics train = probe_metrics(to_vector(logits[l].index_select(0, train_idx)), train_labels);
    lp.train_accuracy = train.accuracy;
    if (!split.test.empty()) {
      const ProbeMetrics m = probe_metrics(to_vector(logits[l].index_select(0, test_idx)), test_labels);
      lp.accuracy = m.accuracy;
      lp.balanced_accuracy = m.balanced_accuracy;
      lp.auc = m.auc;
      lp.margin = m.margin;
    }
    lp.w = to_vector(fit.w[l]);
    lp.b = fit.b[l].item<float>();
    lp.nonzero = (fit.w[l] != 0).sum().item<int64_t>();
    lp.objective = fit.objective[l].item<double>();
    report.layers.push_back(std::move(lp));
  }
  if (!report.cv_folds.empty()) {
    const int64_t F = int64_t(report.cv_folds.size());
    for (int64_t l = 0; l < L; ++l) {
      std::vector<ProbeMetrics> per_fold;
      for (int64_t f = 0; f < F; ++f) {
        const int64_t p = L * (1 + f) + l;
        const torch::Tensor z = X[l].mv(all.w[p]) + all.b[p];
        std::vector<float> zs;
        std::vector<int> ls;
        for (size_t i = 0; i < prompts.size(); ++i)
          if (fold_of[i] == f) {
            zs.push_back(z[int64_t(i)].item<float>());
            ls.push_back(prompts[i].label);
          }
        per_fold.push_back(probe_metrics(zs, ls));
      }
      auto score = [&](double ProbeMetrics::*field) {
        FoldScore s;
        for (const ProbeMetrics& m : per_fold) s.mean += m.*field / double(F);
        for (const ProbeMetrics& m : per_fold) s.std += (m.*field - s.mean) * (m.*field - s.mean) / double(F);
        s.std = std::sqrt(s.std);
        return s;
      };
      LayerProbe& lp = report.layers[size_t(l)];
      lp.cv_accuracy = score(&ProbeMetrics::accuracy);
      lp.cv_balanced_accuracy = score(&ProbeMetrics::balanced_accuracy);
      lp.cv_auc = score(&ProbeMetrics::auc);
    }
  }
  for (size_t c = 0; c < Xc.size(); ++c) {
    ComparedProbes cp{o.compared[c].label, std::filesystem::absolute(o.compared[c].model->dir()).string(), o.compared[c].model->quant_run(), {}};
    const torch::Tensor logits_c = torch::bmm(Xc[c], fit.w.unsqueeze(-1)).squeeze(-1) + fit.b.unsqueeze(-1);
    for (int64_t l = 0; l < L; ++l) {
      ProbeScore s;
      if (!split.test.empty()) {
        const std::vector<float> z = to_vector(logits_c[l].index_select(0, test_idx));
        const ProbeMetrics m = probe_metrics(z, test_labels);
        int malicious = 0, on_side = 0;
        for (size_t i = 0; i < z.size(); ++i)
          if (test_labels[i] == 1) ++malicious, on_side += z[i] > 0;
        s = {m.accuracy, m.balanced_accuracy, m.auc, m.margin, malicious ? double(on_side) / malicious : 0};
      }
      cp.layers.push_back(s);
    }
    report.compared.push_back(std::move(cp));
  }
  if (out_dir.empty()) return report;

  // Projections, fitted on these (reference) activations.
  json proj = {{"ids", json::array()}, {"labels", json::array()}, {"split", json::array()}, {"layers", json::array()},
               {"compared", json::array()}};
  for (const ComparedProbes& cp : report.compared)
    proj["compared"].push_back({{"label", cp.label}, {"model", cp.model}, {"quant_run", cp.quant_run}});
  std::vector<std::string> role(prompts.size(), "train");
  for (size_t i : split.test) role[i] = "test";
  for (size_t i = 0; i < prompts.size(); ++i) {
    proj["ids"].push_back(prompts[i].id);
    proj["labels"].push_back(prompts[i].label);
    proj["split"].push_back(role[i]);
  }
  std::string csv = "id,label,split,layer,model,method,x,y\n";
  auto add_csv = [&](int64_t l, const std::string& who, const char* method, const torch::Tensor& xy) {
    const torch::Tensor c = xy.contiguous();
    for (int64_t i = 0; i < N; ++i)
      csv += "\"" + prompts[size_t(i)].id + "\"," + std::to_string(prompts[size_t(i)].label) + "," + role[size_t(i)] + "," +
             std::to_string(l) + "," + who + "," + method + "," + std::to_string(c[i][0].item<float>()) + "," +
             std::to_string(c[i][1].item<float>()) + "\n";
  };
  for (int64_t l = 0; l < L; ++l) {
    o.progress.step(l, L, "projecting");
    const Basis2D pca = pca_basis(X[l]);
    const Basis2D plane = probe_plane_basis(X[l], fit.w[l]);
    const torch::Tensor a = project_2d(X[l], pca), b = project_2d(X[l], plane);
    json layer = {{"layer", l}, {"pca", points(a)}, {"probe_plane", points(b)}, {"compared", json::array()}};
    if (!plane.note.empty()) layer["probe_plane_note"] = plane.note;
    add_csv(l, "reference", "pca", a);
    add_csv(l, "reference", "probe-plane", b);
    for (size_t c = 0; c < Xc.size(); ++c) {  // the same bases, unchanged, on each compared model's activations
      const torch::Tensor a_c = project_2d(Xc[c][l], pca), b_c = project_2d(Xc[c][l], plane);
      layer["compared"].push_back({{"pca", points(a_c)}, {"probe_plane", points(b_c)}});
      add_csv(l, o.compared[c].label, "pca", a_c);
      add_csv(l, o.compared[c].label, "probe-plane", b_c);
    }
    if (o.tsne) {
      if (N > kTsneLimit) {
        proj["note"] = "t-SNE skipped: " + std::to_string(N) + " points exceed the exact method's " +
                       std::to_string(kTsneLimit) + "-point limit";
      } else {
        TsneOptions to;
        to.seed = o.seed;
        const torch::Tensor t = tsne(X[l], to);
        layer["tsne"] = points(t);
        add_csv(l, "reference", "tsne", t);
        for (size_t c = 0; c < Xc.size(); ++c) {  // started from the reference map, so points stay put unless moved
          const torch::Tensor tc = tsne(Xc[c][l], to, t);
          layer["compared"][c]["tsne"] = points(tc);
          add_csv(l, o.compared[c].label, "tsne", tc);
        }
      }
    }
    proj["layers"].push_back(std::move(layer));
  }
  if (proj.contains("note")) report.note += (report.note.empty() ? "" : "; ") + proj["note"].get<std::string>();

  const std::filesystem::path dir(folder->path());
  std::vector<int32_t> labels32(label_vec.begin(), label_vec.end());
  auto write_activations = [&](const std::string& name, const torch::Tensor& acts, const std::map<std::string, std::string>& meta) {
    std::vector<TensorData> tensors;
    for (int64_t l = 0; l < L; ++l)
      tensors.push_back({"layer." + std::to_string(l), DType::F32, {N, D}, acts[l].data_ptr<float>(), size_t(N * D) * 4});
    tensors.push_back({"labels", DType::I32, {N}, labels32.data(), labels32.size() * 4});
    write_safetensors((dir / name).string(), tensors, meta);
  };
  write_activations("activations.safetensors", X, {{"pooling", report.pooling}, {"chat_template", report.chat_template}});
  write_atomically((dir / "projection.json").string(), [&](std::ostream& out) { out << proj.dump() << "\n"; });
  write_atomically((dir / "projection.csv").string(), [&](std::ostream& out) { out << csv; });
  if (!Xc.empty()) {
    json compared = json::array();
    for (size_t c = 0; c < Xc.size(); ++c) {
      const ComparedProbes& cp = report.compared[c];
      write_activations("activations_" + cp.label + ".safetensors", Xc[c],
                        {{"pooling", report.pooling}, {"model", cp.model}, {"quant_run", cp.quant_run}});
      compared.push_back({{"label", cp.label}, {"model", cp.model}, {"quant_run", cp.quant_run}, {"layers", scores_json(cp.layers)}});
    }
    const json comparison = {{"reference", report.model},
                             {"probes", "fitted on the reference model, applied unchanged to each compared model's activations"},
                             {"compared", compared}};
    write_atomically((dir / "comparison.json").string(), [&](std::ostream& out) { out << comparison.dump(1) << "\n"; });
  }
  write_atomically((dir / "probe.json").string(), [&](std::ostream& out) { out << to_json(report) << "\n"; });
  folder->commit();
  return report;
}

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

std::string probe_label(std::string name) {
  for (char& ch : name)
    if (!label_char(ch)) ch = '-';
  return name;
}

ProbeFolder read_probe_folder(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "probe.json").string();
  const json j = read_json_file(path);
  ProbeFolder f;
  try {
    f.model = j.value("model", "");
    for (const json& l : j.at("layers")) {
      LayerProbe p;
      p.layer = l.at("layer").get<int>();
      p.w = l.at("w").get<std::vector<float>>();
      p.b = l.at("b").get<float>();
      p.accuracy = l.value("accuracy", 0.0);
      p.balanced_accuracy = l.value("balanced_accuracy", 0.0);
      p.auc = l.value("auc", 0.0);
      p.margin = l.value("margin", 0.0);
      p.nonzero = l.value("nonzero", int64_t(0));
      if (p.layer != int(f.layers.size())) throw Error(path, "layers must be listed in order from 0");
      f.layers.push_back(std::move(p));
    }
  } catch (const json::exception&) {
    throw Error(path, "not a probe folder's probe.json: each layer needs \"layer\", \"w\" and \"b\"");
  }
  if (f.layers.empty()) throw Error(path, "holds no probes");
  if (f.model.empty()) throw Error(path, "does not say which model its probes were fitted on (written before probe folders recorded it)");
  return f;
}

}  // namespace sq
