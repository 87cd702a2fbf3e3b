// `safequant probe`: per-layer SLR probes and 2D projections of a model on labelled prompts.
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/probe/probe_run.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_probe(const Args& a) {
  const auto files = a.all("data");
  if (files.empty()) throw UsageError("--data is required");
  ProbeOptions o;
  o.C = a.get_double("C", 1.0);
  if (o.C <= 0) throw UsageError("--C must be positive");
  o.test_share = a.get_double("test-share", 0.2);
  if (o.test_share < 0 || o.test_share >= 1) throw UsageError("--test-share must be in [0, 1)");
  o.cv_folds = a.get_int("folds", 5);
  if (o.cv_folds < 0 || o.cv_folds == 1) throw UsageError("--folds must be 0 (none) or at least 2");
  o.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  o.standardize = a.has("standardize");
  o.penalize_intercept = a.has("penalize-intercept");
  o.mean_pool = a.has("mean");
  o.chat = chat_arg(a);
  o.truncate = a.has("truncate");
  o.tsne = a.has("tsne");
  o.replace = a.has("force");
  o.batch_size = a.get_int("batch-size", 8);
  if (o.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  o.progress = progress_bar(a);
  const std::vector<Prompt> prompts = load_prompt_files(files);
  sq::start_thread_fitting();
  // The full-precision model is the reference: its probes and bases are applied unchanged to the
  // activations of each compared model (--quant: the reference under a run, labelled "quantized";
  // --compare LABEL=DIR[@RUN]: another model, under a run or not).
  const ComputeDevice device = device_arg(a);
  const auto model = Model::load(a.required("model"), "", a.has("verify"), device);
  std::vector<std::unique_ptr<Model>> compared;
  auto compare = [&](const std::string& label, const std::string& dir, const std::string& run) {
    compared.push_back(Model::load(dir, run, a.has("verify"), device));
    o.compared.push_back({label, compared.back().get()});
  };
  if (a.has("quant")) compare("quantized", a.required("model"), a.get("quant"));
  for (const std::string& spec : a.all("compare")) {
    const size_t eq = spec.find('='), at = spec.rfind('@');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size() || (at != std::string::npos && (at < eq || at + 1 == spec.size())))
      throw UsageError("--compare takes LABEL=DIR or LABEL=DIR@RUNDIR, not '" + spec + "'");
    const std::string dir = spec.substr(eq + 1, at == std::string::npos ? std::string::npos : at - eq - 1);
    compare(spec.substr(0, eq), dir, at == std::string::npos ? "" : spec.substr(at + 1));
  }
  const ProbeReport r = run_probe(*model, prompts, o, a.get("out"));
  if (a.has("out")) {
    if (!a.has("quiet")) {
      std::cerr << "probe: " << r.layers.size() << " layers, " << r.train_ids.size() << " train / " << r.test_ids.size()
                << " held-out prompts; held-out accuracy per layer:";
      for (const LayerProbe& l : r.layers) std::cerr << " " << int(l.accuracy * 1000) / 10.0;
      if (!r.cv_folds.empty()) {
        std::cerr << "; " << r.cv_folds.size() << "-fold cross-validated:";
        for (const LayerProbe& l : r.layers)
          std::cerr << " " << std::lround(l.cv_accuracy.mean * 1000) / 10.0 << "±" << std::lround(l.cv_accuracy.std * 1000) / 10.0;
      }
      std::string files = "activations.safetensors, probe.json, projection.json, projection.csv";
      for (const ComparedProbes& c : r.compared) {
        std::cerr << "; " << c.label << " (same probes; accuracy, malicious side %):";
        for (const ProbeScore& s : c.layers)
          std::cerr << " " << std::lround(s.accuracy * 1000) / 10.0 << "/" << std::lround(s.malicious_side * 1000) / 10.0;
        files += ", activations_" + c.label + ".safetensors";
      }
      if (!r.compared.empty()) files += ", comparison.json";
      std::cerr << "\nprobe: wrote " << files << " to " << a.get("out") << "\n";
      if (!r.note.empty()) std::cerr << "probe: " << r.note << "\n";
    }
  } else {
    std::cout << to_json(r) << "\n";
  }
  return 0;
}

}  // namespace sq::cli
