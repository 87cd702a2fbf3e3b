// `safequant quantize`: a quantization run folder from a model, a method and a scheme.
#include <cstdio>
#include <filesystem>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/mixed/allocation.h"
#include "core/quant/quantizer.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"

namespace sq::cli {
namespace {

// --mixed: an allocation.json as `safequant allocate` wrote it, or a sensitivity folder to
// allocate from within --budget-bits / --budget-bytes.
SchemeMix mixed_arg(const Args& a) {
  const std::string from = a.get("mixed");
  const bool budget = a.has("budget-bits") || a.has("budget-bytes");
  Allocation allocation;
  if (std::filesystem::is_regular_file(from)) {
    if (budget || a.has("mu") || a.has("objective"))
      throw UsageError("--mixed " + from + " is an allocation already; --budget-bits, --budget-bytes, --mu and --objective go with a sensitivity folder");
    allocation = read_allocation(from);
  } else {
    if (a.has("budget-bits") == a.has("budget-bytes")) throw UsageError("--mixed with a sensitivity folder needs one of --budget-bits or --budget-bytes");
    allocation = allocate_for(from, a.get_double("budget-bits", 0), a.get_double("budget-bytes", 0),
                              parse_allocation_objective(a.get("objective", "safety")), a.get_double("mu", 1.0));
  }
  return scheme_mix(read_sensitivity(allocation.sensitivity_dir), allocation);
}

}  // namespace

int run_quantize(const Args& a) {
  QuantMethod method;
  try {
    method = parse_quant_method(a.required("method"));
  } catch (const Error&) {
    throw UsageError("--method must be " + quant_method_names());
  }
  const QuantMethodInfo& m = info(method);
  QuantizeOptions o = QuantizeOptions::for_method(method);
  o.device = device_arg(a);
  if (a.has("mixed")) {
    if (a.has("scheme")) throw UsageError("--mixed gives each unit its own scheme; it takes no --scheme");
    o.mix = mixed_arg(a);
  } else {
    try {
      o.scheme = parse_scheme(a.required("scheme"));
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
  }
  o.samples = a.get_int("samples", 200);
  o.ratio = a.get_double("ratio", 0.75);
  o.seq_len = a.get_int("seq-len", 128);
  o.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  o.chat = chat_arg(a);
  o.damp = a.get_double("damp", 0.01);
  o.act_order = a.has("act-order");
  o.hessian_f64 = a.has("hessian-f64");
  o.epochs = a.get_int("epochs", o.epochs);
  o.lr = a.get_double("lr", o.lr);
  o.aligned_dir = a.get("aligned");
  o.probes_dir = a.get("probes");
  o.teacher_dir = a.get("teacher");
  o.random_probes = a.has("random-probes");
  o.paper_epochs = !a.has("constant-epochs");
  const std::string target = a.get("block-target", "fp");
  if (target != "fp" && target != "quantized-inputs") throw UsageError("--block-target must be fp or quantized-inputs");
  o.fp_targets = target == "fp";
  o.base_dir = a.get("base");
  o.lambda = a.get_double("lambda", o.lambda);
  o.top_k = a.get_int("top-k", o.top_k);
  if (a.has("rotate") && a.has("no-rotate")) throw UsageError("--rotate and --no-rotate exclude each other");
  o.rotate = a.has("rotate") || (o.rotate && !a.has("no-rotate"));
  o.smooth = !a.has("no-smooth");
  o.replace = a.has("force");
  const std::string named = std::string("--method ") + m.name;
  if (m.needs_base && o.base_dir.empty()) throw UsageError(named + " needs --base DIR (the unaligned base model)");
  if (m.needs_aligned && o.aligned_dir.empty() && o.probes_dir.empty())
    throw UsageError(named + " needs the aligned model's probes: --aligned DIR or --probes DIR");
  if (!m.needs_aligned && (!o.aligned_dir.empty() || !o.probes_dir.empty()))
    throw UsageError("--aligned and --probes are q-realign's (AAQ's teacher is the model itself; --teacher DIR distils from another)");
  if (!m.needs_base && !o.teacher_dir.empty()) throw UsageError("--teacher is aaq's");
  if (!m.needs_aligned && o.random_probes) throw UsageError("--random-probes is a control for q-realign");
  if (o.lambda < 0 || o.top_k < 1) throw UsageError("--lambda must be >= 0 and --top-k >= 1");
  if (o.epochs < 1 || o.lr <= 0) throw UsageError("--epochs and --lr must be positive");
  if (o.samples < 1 || o.seq_len < 1) throw UsageError("--samples and --seq-len must be positive");
  if (o.ratio < 0 || o.ratio > 1) throw UsageError("--ratio must be between 0 and 1");
  const auto files = a.all("data");
  if (m.calibrated) {
    if (files.empty()) throw UsageError(named + " needs calibration prompts (--data)");
    o.prompts = load_prompt_files(files);
  }
  o.progress = progress_bar(a);
  sq::start_thread_fitting();
  const QuantizeResult r = quantize_model(a.required("model"), o, a.required("out"));
  for (const std::string& n : r.notes) std::fprintf(stderr, "quantize: note: %s\n", n.c_str());
  if (!a.has("quiet"))
    std::fprintf(stderr, "quantize: %s %s in %.1f s -> %s\n", m.name,
                 o.mix ? ("mixed, " + std::to_string(o.mix->bits_per_weight).substr(0, 5) + " bits per weight").c_str() : o.scheme.name.c_str(),
                 r.seconds, r.run_dir.c_str());
  std::printf("%s\n", r.run_dir.c_str());
  return 0;
}

}  // namespace sq::cli
