// `safequant probe`: per-layer SLR probes and 2D projections of a model on labelled prompts.
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/probe/probe_run.h"
#include "core/run/system_info.h"

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
  o.chat = !a.has("no-chat");
  o.tsne = a.has("tsne");
  o.replace = a.has("force");
  o.batch_size = a.get_int("batch-size", 8);
  if (o.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  o.progress = progress_bar(a);
  const std::vector<Prompt> prompts = load_prompt_files(files);
  sq::use_all_cores();
  // With --quant the full-precision model is the reference: its probes and bases are applied
  // unchanged to the quantized model's activations.
  const auto model = Model::load(a.required("model"), "", a.has("verify"));
  std::unique_ptr<Model> quantized;
  if (a.has("quant")) {
    quantized = Model::load(a.required("model"), a.get("quant"));
    o.quantized = quantized.get();
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
      if (!r.quantized.empty()) {
        std::cerr << "; quantized:";
        for (const QuantizedProbe& q : r.quantized) std::cerr << " " << int(q.accuracy * 1000) / 10.0;
      }
      std::cerr << "\nprobe: wrote activations.safetensors, probe.json, projection.json, projection.csv"
                << (r.quantized.empty() ? "" : ", activations_quantized.safetensors, comparison.json") << " to " << a.get("out")
                << "\n";
      if (!r.note.empty()) std::cerr << "probe: " << r.note << "\n";
    }
  } else {
    std::cout << to_json(r) << "\n";
  }
  return 0;
}

}  // namespace sq::cli
