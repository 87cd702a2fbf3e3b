#include "core/probe/probe_run.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/staged_folder.h"
#include "core/model/prompt_encoding.h"
#include "core/probe/metrics.h"
#include "core/probe/projection.h"
#include "core/probe/slr.h"
#include "core/run/torch_device.h"

namespace sq {
namespace {

constexpr int64_t kTsneLimit = 5000;

std::vector<float> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

Projection::Points points(const torch::Tensor& xy) {
  const torch::Tensor c = xy.to(torch::kFloat32).contiguous();
  const float* p = c.data_ptr<float>();
  Projection::Points out(size_t(c.size(0)));
  for (size_t i = 0; i < out.size(); ++i) out[i] = {p[2 * i], p[2 * i + 1]};
  return out;
}

bool label_char(char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-'; }

// The compared models' labels and shapes checked against the reference; the inputs an output
// folder must not be (their folders and runs).
std::vector<std::string> check_compared(const Model& model, const ProbeOptions& o) {
  std::vector<std::string> inputs = {model.dir()};
  for (size_t c = 0; c < o.compared.size(); ++c) {
    const ProbeOptions::Compared& cm = o.compared[c];
    const std::string& label = cm.label;
    if (label.empty() || label == "reference" || !std::all_of(label.begin(), label.end(), label_char))
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
  return inputs;
}

// Each prompt's cross-validation fold (empty for none), with the folds and any note in `report`:
// k folds need k prompts of each label, so every fold holds both; fewer folds when a label is
// smaller, none below two.
std::vector<int> assign_folds(const std::vector<Prompt>& prompts, const ProbeOptions& o, ProbeReport& report) {
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
  return fold_of;
}

// [layers, prompts, hidden] pooled states of one model.
// host: they arrive as floats, and the probe solver's coordinate descent runs on the CPU.
torch::Tensor pooled_states(const Model& m, const std::vector<std::vector<int32_t>>& encoded, const ProbeOptions& o) {
  CaptureOptions co;
  co.batch_size = o.batch_size;
  co.progress = o.progress;
  const Activations acts = m.capture(encoded, co);
  const auto& pooled = o.mean_pool ? acts.mean : acts.last;
  torch::Tensor t = torch::empty({int64_t(acts.points.size()), acts.n, acts.hidden}, host());
  for (int64_t l = 0; l < t.size(0); ++l)
    std::copy_n(pooled.at(acts.points[size_t(l)]).data(), acts.n * acts.hidden, t[l].data_ptr<float>());
  return t;
}

std::vector<int64_t> as_rows(const std::vector<size_t>& v) { return std::vector<int64_t>(v.begin(), v.end()); }

std::vector<int> labels_at(const std::vector<Prompt>& prompts, const std::vector<size_t>& rows) {
  std::vector<int> out;
  for (size_t i : rows) out.push_back(prompts[i].label);
  return out;
}

// One solver call fits the split's probe of every layer (problems 0..L-1) and every fold's; the
// split's probes, scored on both parts, and the folds' scores go into report.layers. Returns the
// split's probes.
SlrFit fit_layer_probes(const torch::Tensor& X, const std::vector<Prompt>& prompts, const Split& split, const std::vector<int>& fold_of,
                        const ProbeOptions& o, ProbeReport& report) {
  const int64_t L = X.size(0);
  std::vector<int64_t> label_vec;
  for (const Prompt& p : prompts) label_vec.push_back(p.label);
  SlrOptions so;
  so.C = o.C;
  so.standardize = o.standardize;
  so.penalize_intercept = o.penalize_intercept;
  std::vector<SlrProblem> problems;
  for (int64_t l = 0; l < L; ++l) problems.push_back({l, as_rows(split.train)});
  for (int f = 0; f < int(report.cv_folds.size()); ++f) {
    std::vector<int64_t> rows;
    for (size_t i = 0; i < prompts.size(); ++i)
      if (fold_of[i] != f) rows.push_back(int64_t(i));
    for (int64_t l = 0; l < L; ++l) problems.push_back({l, rows});
  }
  const SlrFit all = fit_slr(X, torch::tensor(label_vec, host(torch::kInt64)), problems, so, o.progress);
  report.iterations = all.iterations;
  SlrFit fit;
  fit.w = all.w.narrow(0, 0, L);
  fit.b = all.b.narrow(0, 0, L);
  fit.objective = all.objective.narrow(0, 0, L);
  const torch::Tensor train_idx = torch::tensor(as_rows(split.train), host(torch::kInt64));
  const torch::Tensor test_idx = torch::tensor(as_rows(split.test), host(torch::kInt64));
  const torch::Tensor logits = torch::bmm(X, fit.w.unsqueeze(-1)).squeeze(-1) + fit.b.unsqueeze(-1);  // [L, N]
  const std::vector<int> test_labels = labels_at(prompts, split.test), train_labels = labels_at(prompts, split.train);
  for (int64_t l = 0; l < L; ++l) {
    LayerProbe lp;
    lp.layer = int(l);
    lp.train_accuracy = probe_metrics(to_vector(logits[l].index_select(0, train_idx)), train_labels).accuracy;
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
  const int64_t F = int64_t(report.cv_folds.size());
  for (int64_t l = 0; l < L && F > 0; ++l) {
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
  return fit;
}

// The split's probes read each compared model's held-out states: how well they still separate,
// and the share of malicious prompts on the probe's malicious side.
ComparedProbes score_compared(const ProbeOptions::Compared& cm, const torch::Tensor& Xc, const SlrFit& fit,
                              const std::vector<Prompt>& prompts, const Split& split) {
  ComparedProbes cp{{cm.label, std::filesystem::absolute(cm.model->dir()).string(), cm.model->quant_run()}, {}};
  const torch::Tensor logits = torch::bmm(Xc, fit.w.unsqueeze(-1)).squeeze(-1) + fit.b.unsqueeze(-1);
  const torch::Tensor test_idx = torch::tensor(as_rows(split.test), host(torch::kInt64));
  const std::vector<int> test_labels = labels_at(prompts, split.test);
  for (int64_t l = 0; l < Xc.size(0); ++l) {
    ProbeScore s;
    if (!split.test.empty()) {
      const std::vector<float> z = to_vector(logits[l].index_select(0, test_idx));
      const ProbeMetrics m = probe_metrics(z, test_labels);
      int malicious = 0, on_side = 0;
      for (size_t i = 0; i < z.size(); ++i)
        if (test_labels[i] == 1) ++malicious, on_side += z[i] > 0;
      s = {m.accuracy, m.balanced_accuracy, m.auc, m.margin, malicious ? double(on_side) / malicious : 0};
    }
    cp.layers.push_back(s);
  }
  return cp;
}

// Every layer's 2D maps, with bases fitted on the reference's states `X` and applied unchanged
// to each compared model's.
Projection project_layers(const torch::Tensor& X, const std::vector<torch::Tensor>& Xc, const SlrFit& fit, const std::vector<Prompt>& prompts,
                          const Split& split, const ProbeReport& report, const ProbeOptions& o) {
  const int64_t L = X.size(0), N = X.size(1);
  Projection proj;
  for (const ComparedProbes& cp : report.compared) proj.compared.push_back(cp);
  proj.split.assign(prompts.size(), "train");
  for (size_t i : split.test) proj.split[i] = "test";
  for (const Prompt& p : prompts) proj.ids.push_back(p.id), proj.labels.push_back(p.label);
  for (int64_t l = 0; l < L; ++l) {
    o.progress.step(l, L, "projecting");
    const Basis2D pca = pca_basis(X[l]);
    const Basis2D plane = probe_plane_basis(X[l], fit.w[l]);
    Projection::Layer layer;
    layer.reference = {{ProjectionMethod::Pca, points(project_2d(X[l], pca))}, {ProjectionMethod::ProbePlane, points(project_2d(X[l], plane))}};
    layer.probe_plane_note = plane.note;
    for (size_t c = 0; c < Xc.size(); ++c)
      layer.compared.push_back({{ProjectionMethod::Pca, points(project_2d(Xc[c][l], pca))},
                                {ProjectionMethod::ProbePlane, points(project_2d(Xc[c][l], plane))}});
    if (o.tsne) {
      if (N > kTsneLimit) {
        proj.note = "t-SNE skipped: " + std::to_string(N) + " points exceed the exact method's " + std::to_string(kTsneLimit) + "-point limit";
      } else {
        TsneOptions to;
        to.seed = o.seed;
        const torch::Tensor t = tsne(X[l], to);
        layer.reference[ProjectionMethod::Tsne] = points(t);
        for (size_t c = 0; c < Xc.size(); ++c)  // started from the reference map, so points stay put unless moved
          layer.compared[c][ProjectionMethod::Tsne] = points(tsne(Xc[c][l], to, t));
      }
    }
    proj.layers.push_back(std::move(layer));
  }
  return proj;
}

// The probe folder's files: each model's activations with the labels, the projections and the report.
void write_probe_folder(const std::string& dir, const torch::Tensor& X, const std::vector<torch::Tensor>& Xc, const std::vector<Prompt>& prompts,
                        const Projection& proj, const ProbeReport& report) {
  const int64_t L = X.size(0), N = X.size(1), D = X.size(2);
  std::vector<int32_t> labels32;
  for (const Prompt& p : prompts) labels32.push_back(p.label);
  auto write_activations = [&](const std::string& name, const torch::Tensor& acts, const std::map<std::string, std::string>& meta) {
    std::vector<TensorData> tensors;
    for (int64_t l = 0; l < L; ++l)
      tensors.push_back({"layer." + std::to_string(l), DType::F32, {N, D}, acts[l].data_ptr<float>(), size_t(N * D) * 4});
    tensors.push_back({"labels", DType::I32, {N}, labels32.data(), labels32.size() * 4});
    write_safetensors((std::filesystem::path(dir) / name).string(), tensors, meta);
  };
  write_activations("activations.safetensors", X, {{"pooling", report.pooling}, {"chat_template", report.chat_template}});
  for (size_t c = 0; c < Xc.size(); ++c)
    write_activations("activations_" + report.compared[c].label + ".safetensors", Xc[c],
                      {{"pooling", report.pooling}, {"model", report.compared[c].model}, {"quant_run", report.compared[c].quant_run}});
  write_projection(dir, proj);
  write_probe_report(dir, report);
}

}  // namespace

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
  const std::vector<std::string> inputs = check_compared(model, o);
  // Before the work, so an output that may not be written fails at once.
  std::optional<StagedFolder> folder;
  if (!out_dir.empty()) folder.emplace(out_dir, OutputKind::Probe, o.replace, inputs);
  for (size_t i : split.train) report.train_ids.push_back(prompts[i].id);
  for (size_t i : split.test) report.test_ids.push_back(prompts[i].id);
  report.split_strata = strata_of(prompts, split.test);
  const std::vector<int> fold_of = assign_folds(prompts, o, report);

  ChatRecord chat;
  auto encoded = encode_prompts(model, prompts, o.chat, &chat);
  report.chat_template = chat.template_name, report.chat_system = chat.system, report.chat_date = chat.date;
  if (o.truncate)
    if (const size_t cut = keep_last_tokens(encoded, size_t(model.config().max_position_embeddings)))
      report.note += (report.note.empty() ? "" : "; ") + std::to_string(cut) + " prompts longer than the model's context kept their last " +
                     std::to_string(model.config().max_position_embeddings) + " tokens";
  const torch::Tensor X = pooled_states(model, encoded, o);
  std::vector<torch::Tensor> Xc;  // each compared model's, in order
  for (const ProbeOptions::Compared& cm : o.compared) Xc.push_back(pooled_states(*cm.model, encoded, o));

  const SlrFit fit = fit_layer_probes(X, prompts, split, fold_of, o, report);
  for (size_t c = 0; c < Xc.size(); ++c) report.compared.push_back(score_compared(o.compared[c], Xc[c], fit, prompts, split));
  if (out_dir.empty()) return report;

  const Projection proj = project_layers(X, Xc, fit, prompts, split, report, o);
  if (!proj.note.empty()) report.note += (report.note.empty() ? "" : "; ") + proj.note;
  write_probe_folder(folder->path(), X, Xc, prompts, proj, report);
  folder->commit();
  return report;
}

std::string probe_label(std::string name) {
  for (char& ch : name)
    if (!label_char(ch)) ch = '-';
  return name;
}

}  // namespace sq
