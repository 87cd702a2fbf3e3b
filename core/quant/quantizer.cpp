#include "core/quant/quantizer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/data/calibration.h"
#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/staged_folder.h"
#include "core/model/llama.h"
#include "core/model/model.h"
#include "core/model/prompt_encoding.h"
#include "core/probe/probe_run.h"
#include "core/quant/aaq_training.h"
#include "core/quant/block_learning.h"
#include "core/quant/gptq.h"
#include "core/quant/quant_layer.h"
#include "core/quant/rotation.h"
#include "core/quantized/run_folder.h"
#include "core/quant/smoothing.h"
#include "core/run/threads.h"
#include "core/version.h"

namespace sq {
namespace {

namespace fs = std::filesystem;

const char* const kOwnProbes =
    ": Q-realign's probes must come from the aligned model (--aligned DIR, or --probes with a probe folder of it). Probes "
    "fitted on the model being quantized read the direction its own states already separate along, so pushing along "
    "them moves nothing back toward the aligned model's refusals";

bool same_path(const std::string& a, const std::string& b) {
  std::error_code ec;
  return !a.empty() && !b.empty() && fs::equivalent(a, b, ec);
}

// Which hook point feeds each linear layer.
const std::pair<const char*, const char*> kInputs[] = {
    {"self_attn.q_proj", ".qkv_in"}, {"self_attn.k_proj", ".qkv_in"}, {"self_attn.v_proj", ".qkv_in"},
    {"self_attn.o_proj", ".o_in"},   {"mlp.gate_proj", ".mlp_in"},    {"mlp.up_proj", ".mlp_in"},
    {"mlp.down_proj", ".down_in"}};

// Hessians of block i's linear inputs (by hook suffix: ".qkv_in", ...), over real tokens.
std::map<std::string, HessianAccumulator> input_hessians(const Llama& block, int64_t i, const Params& layer,
                                                         const std::vector<Llama::State>& states, const std::vector<Llama::Batch>& batches,
                                                         torch::ScalarType dtype) {
  const std::string point = "layer." + std::to_string(i);
  std::map<std::string, HessianAccumulator> hessians;
  for (const auto& [linear, input] : kInputs)
    if (!hessians.count(input))
      hessians.emplace(input, HessianAccumulator(layer.at("model.layers." + std::to_string(i) + "." + linear + ".weight").size(1),
                                                 block.device(), dtype));
  std::vector<Llama::State> scratch = states;
  block.run_block(i, scratch, [&](size_t b, const std::string& name, const torch::Tensor& v) {
    if (name.rfind(point, 0) != 0) return;
    auto it = hessians.find(name.substr(point.size()));
    if (it == hessians.end()) return;
    const torch::Tensor real = batches[b].mask.reshape({-1}).to(torch::kBool);
    it->second.add(v.reshape({-1, v.size(-1)}).index({real}));
  });
  return hessians;
}

// Calibration: chat-templated prompts, truncated to seq_len tokens, batched with left padding,
// with each batch's malicious rows (the batches are in the draw's order, or by length for GPTQ).
struct CalibrationBatches {
  std::vector<Prompt> prompts;
  std::vector<Stratum> composition;
  std::vector<Llama::Batch> batches;
  std::vector<torch::Tensor> malicious;
  ChatRecord chat;
};

CalibrationBatches calibration_batches(const Model& model, const QuantizeOptions& o) {
  if (o.batch_size < 1) throw Error("batch size must be at least 1");
  CalibrationBatches out;
  CalibrationDraw draw = draw_calibration(o.prompts, o.samples, o.ratio, o.seed);
  out.prompts = std::move(draw.prompts);
  out.composition = std::move(draw.composition);
  auto encoded = encode_prompts(model, out.prompts, o.chat, &out.chat);
  for (auto& e : encoded)
    if (int(e.size()) > o.seq_len) e.resize(size_t(o.seq_len));
  const torch::Device dev = torch_device(o.device);
  // Where only sums over tokens read the batches (GPTQ's Hessians), prompts of similar lengths go
  // together: a prompt cut at 512 tokens beside prompts of 50 pads every row of its batch to 512.
  // Methods that learn take a step a batch at a time, so they keep the draw's order.
  const std::vector<std::vector<size_t>> groups = o.method == QuantMethod::Gptq
                                                      ? length_batches(encoded, size_t(o.batch_size))
                                                      : consecutive_batches(encoded.size(), size_t(o.batch_size));
  out.batches = Llama::left_padded(encoded, groups, dev);
  for (const std::vector<size_t>& g : groups) {
    std::vector<int64_t> labels;
    for (size_t i : g) labels.push_back(out.prompts[i].label);
    out.malicious.push_back(torch::tensor(labels, torch::TensorOptions(torch::kInt64).device(dev)).to(torch::kBool));
  }
  return out;
}

// Q-realign's per-layer probes come from the aligned model, as the paper's code fits them: read
// from a probe folder of it, or fitted on its activations of the calibration prompts; with
// random_probes, replaced by the control.
struct AlignedProbes {
  std::vector<LayerProbe> layers;
  std::string from;  // for run.json
};

AlignedProbes aligned_probes(const std::string& model_dir, const ModelConfig& c, const std::vector<Prompt>& calibration,
                             const QuantizeOptions& o) {
  AlignedProbes probes;
  if (!o.probes_dir.empty()) {
    ProbeReport pf = read_probe_report(o.probes_dir);
    if (same_path(pf.model, model_dir)) throw Error(o.probes_dir, std::string("these probes were fitted on ") + model_dir + kOwnProbes);
    if (int64_t(pf.layers.size()) != c.num_layers || pf.layers.front().w.size() != size_t(c.hidden_size))
      throw Error(o.probes_dir, "its probes (" + std::to_string(pf.layers.size()) + " layers of " +
                                    std::to_string(pf.layers.front().w.size()) + ") do not fit " + model_dir);
    probes.layers = std::move(pf.layers);
    probes.from = fs::absolute(o.probes_dir).string() + " (fitted on " + pf.model + ")";
  } else {
    if (same_path(o.aligned_dir, model_dir)) throw Error(o.aligned_dir, std::string("is the model being quantized") + kOwnProbes);
    const auto probe_model = Model::load(o.aligned_dir, "", false, o.device);
    if (probe_model->config().num_layers != c.num_layers || probe_model->config().hidden_size != c.hidden_size)
      throw Error(o.aligned_dir, "the aligned model's shape differs from " + model_dir);
    ProbeOptions po;
    po.progress = o.progress;
    po.cv_folds = 0;  // only the probes are needed
    po.truncate = true;  // a prompt past the context keeps its last tokens, where the probe reads
    probes.layers = run_probe(*probe_model, calibration, po, "").layers;
    probes.from = fs::absolute(o.aligned_dir).string() + " (fitted on the calibration prompts)";
  }
  if (o.random_probes) {
    // host: the probes are host vectors, and the control's draws the same on every device
    torch::manual_seed(o.seed + 7);
    for (LayerProbe& p : probes.layers) {
      const torch::Tensor w = torch::tensor(p.w, host());
      const int64_t nonzero = std::max<int64_t>(1, w.ne(0).sum().item<int64_t>());
      torch::Tensor r = torch::zeros_like(w);
      r.index_put_({torch::randperm(w.numel(), host(torch::kInt64)).narrow(0, 0, nonzero)}, torch::randn({nonzero}, host()));
      r = r * (w.norm() / r.norm().clamp_min(1e-12));
      p.w.assign(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
    }
    probes.from += ", replaced by random sparse probes of the same norm and sparsity (control)";
  }
  return probes;
}

// What a run cannot be made of, refused before any work.
void check_inputs(const QuantizeOptions& o, const std::string& run_dir) {
  const QuantMethodInfo& method = info(o.method);
  std::vector<const QuantScheme*> schemes = {&o.scheme};
  if (o.mix)
    for (const auto& [param, scheme] : o.mix->schemes) schemes.push_back(&scheme);
  for (const QuantScheme* scheme : schemes) {
    if (method.learns_blocks && scheme->gguf_exact())
      throw Error(std::string(method.name) + " learns clipping ranges, which llama.cpp's block grids fix; use rtn or gptq with " + scheme->name);
    // GPTQ fixes a group's grid when it reaches the group's first column; a K-quant super-block's
    // sub-block scales are fitted to all 256 of its values at once, which GPTQ has not yet rounded.
    if (method.rounds_gptq && scheme->w_kind == kernels::GridKind::GgufK)
      throw Error(std::string(method.name) + " rounds with GPTQ, which is not built for llama.cpp's K-quant super-blocks; use rtn with " +
                  scheme->name);
  }
  if (method.needs_base && o.base_dir.empty()) throw Error("aaq needs the unaligned base model to push away from (--base)");
  if (method.needs_aligned && o.aligned_dir.empty() && o.probes_dir.empty())
    throw Error(std::string("q-realign needs probes") + kOwnProbes);
  if (o.random_probes && !method.needs_aligned) throw Error("random probes are a control for q-realign only");
  if (run_dir.empty()) throw Error("no run folder given");
}

// One block's weights rounded to the scheme: each targeted linear by GPTQ on its inputs'
// Hessians, on its learnt clip factors, or to nearest. `replaced`: what the model computes with
// next; `dense`: the other parameters, kept in the run when `keep_dense` (rotation or smoothing
// changed them).
struct RoundedLayer {
  std::map<std::string, QuantizedWeight> quantized;  // by linear, without ".weight"
  Params replaced, dense;
};

RoundedLayer round_layer(const Params& layer, bool keep_dense, const std::map<std::string, HessianAccumulator>& hessians,
                         const Params& clips, const QuantizeOptions& o, QuantizeResult& result, nlohmann::json& log) {
  const QuantMethodInfo& method = info(o.method);
  RoundedLayer out;
  for (const auto& [name, w] : layer) {
    const QuantScheme* scheme = o.scheme_for(name);
    if (!scheme) {
      if (keep_dense) out.dense[name] = w;
      out.replaced[name] = w;
      continue;
    }
    QuantizedWeight q;
    if (method.rounds_gptq) {
      const std::string input = [&] {
        for (const auto& [l, in] : kInputs)
          if (name.find(std::string(".") + l + ".") != std::string::npos) return std::string(in);
        return std::string();
      }();
      GptqOptions go;
      go.damp = o.damp;
      go.act_order = o.act_order;
      GptqResult g = gptq_quantize(w, hessians.at(input).hessian(), *scheme, go);
      if (!g.note.empty()) result.notes.push_back(name + ": " + g.note);
      q = std::move(g.weight);
    } else if (method.learns_blocks) {
      q = quantize_weight(w, *scheme, clips.at(name));
    } else {
      try {
        q = quantize_weight(w, *scheme);
      } catch (const Error& e) {
        throw Error("'" + name + "': " + e.what());
      }
    }
    const double err = (q.dequant - w).pow(2).mean().item<double>() / std::max(1e-30, w.pow(2).mean().item<double>());
    log.push_back({{"tensor", name}, {"relative_mse", err}});
    out.replaced[name] = q.dequant;
    out.quantized[name.substr(0, name.size() - 7)] = std::move(q);
  }
  return out;
}

// run.json's record of a finished run: `c` the model's config, `cq` the one the run computes with.
RunRecord run_record(const std::string& model_dir, const ModelConfig& c, const ModelConfig& cq, const QuantizeOptions& o,
                     const CalibrationBatches& cal, const std::string& probes_from, const std::vector<int>& block_epochs,
                     const QuantizeResult& result) {
  const QuantMethodInfo& method = info(o.method);
  RunRecord run;
  run.safequant = SAFEQUANT_VERSION;
  run.quantizer_revision = kQuantizerRevision;
  run.model = fs::absolute(model_dir).string();
  run.model_type = c.model_type;
  run.layers = c.num_layers;
  run.method = o.method;
  run.scheme = o.scheme;
  run.mix = o.mix;
  run.untied = cq.tie_word_embeddings != c.tie_word_embeddings;
  if (o.rotate)
    run.rotation = RunRecord::Rotation{(c.hidden_size & (c.hidden_size - 1)) == 0 ? "randomized hadamard" : "random orthogonal", o.seed};
  run.calibration = {int(cal.prompts.size()), o.seq_len, o.ratio, o.seed, cal.composition, {},
                     cal.chat.template_name, cal.chat.system, cal.chat.date};
  for (const Prompt& p : cal.prompts) run.calibration.ids.push_back(p.id);
  for (const Llama::Batch& b : cal.batches) run.calibration.tokens += b.mask.sum().item<int64_t>();
  run.gptq = {o.damp, o.act_order, 128, o.hessian_f64};
  if (method.learns_blocks)
    run.lwc = RunRecord::Lwc{o.epochs,
                             o.paper_epochs ? "epochs - 5 for the first half of the layers, + 5 for the rest" : "constant",
                             block_epochs,
                             o.lr,
                             o.smooth,
                             o.smooth ? "q/k/v and gate/up inputs (into the norms), v_proj -> o_proj, q_proj -> k_proj (one scale per rotary pair)" : "",
                             method.needs_aligned ? "q-realign" : "reconstruction",
                             o.fp_targets ? "full-precision model (inputs propagated in full precision)"
                                          : "full-precision block on the quantized model's inputs",
                             probes_from};
  if (method.needs_base)
    run.aaq = RunRecord::Aaq{fs::absolute(o.base_dir).string(),
                             o.teacher_dir.empty() ? "the model itself in full precision" : fs::absolute(o.teacher_dir).string(),
                             o.lambda, o.lr, o.top_k, o.epochs};
  run.notes = result.notes;
  run.training_loss = result.loss_curve;
  run.seconds = result.seconds;
  run.threads = o.threads > 0 ? o.threads : every_core_count();
  return run;
}

}  // namespace

QuantizeOptions QuantizeOptions::for_method(QuantMethod method) {
  QuantizeOptions o;
  o.method = method;
  o.lr = info(method).learning_rate;
  o.rotate = info(method).rotate;
  return o;
}

QuantizeResult quantize_model(const std::string& model_dir, const QuantizeOptions& options, const std::string& run_dir) {
  const HeldThreadsScope reproducible(options.threads);
  const auto t0 = std::chrono::steady_clock::now();
  const QuantMethodInfo& method = info(options.method);
  const bool learned = method.learns_blocks;
  QuantizeOptions o = options;
  if (o.mix) o.scheme = mixed_run_scheme();
  if (learned) o.scheme = with_attention_at_activation_bits(o.scheme);
  QuantizeResult result;
  result.run_dir = run_dir;
  if (o.scheme.q_bits != options.scheme.q_bits)
    result.notes.push_back("queries, keys and values quantized at the activation bits (" + std::to_string(o.scheme.q_bits) +
                           "), as OmniQuant's and Q-realign's code do; a scheme naming kv16 keeps them in full precision");
  check_inputs(o, run_dir);
  // Before the work, so an output that may not be written fails at once.
  StagedFolder out(run_dir, OutputKind::QuantRun, o.replace, {model_dir, o.aligned_dir, o.base_dir});
  const fs::path tmp = out.path();
  const torch::Device dev = torch_device(o.device);
  const auto model = Model::load(model_dir, "", false, o.device);
  const ModelConfig& c = model->config();
  auto weights = std::make_shared<const Checkpoint>(model_dir);
  if (o.mix) {
    const std::vector<ParamSpec> specs = parameter_specs(c);
    for (const auto& [param, scheme] : o.mix->schemes)
      if (std::none_of(specs.begin(), specs.end(), [&](const ParamSpec& p) { return p.name == param && p.shape.size() == 2; }))
        throw Error(model_dir, "the mixed-precision plan names '" + param + "', which is not a weight matrix of this model");
  }

  const CalibrationBatches cal = method.calibrated ? calibration_batches(*model, o) : CalibrationBatches{};
  const std::vector<Llama::Batch>& batches = cal.batches;
  const AlignedProbes probes = method.needs_aligned ? aligned_probes(model_dir, c, cal.prompts, o) : AlignedProbes{};

  // The weights the run starts from: the checkpoint's, or with the residual stream rotated (the
  // rotated model computes the same function; its output head is untied from the embeddings).
  torch::NoGradGuard no_grad;
  const FetchFn fetch = [&](const std::string& name) { return as_tensor(weights->tensor(name)).to(dev, torch::kFloat32); };
  ModelConfig cq = c;
  Params globals;
  torch::Tensor rotation;
  if (o.rotate) {
    rotation = random_orthogonal(c.hidden_size, o.seed).to(dev);
    globals = rotate_globals(c, fetch, rotation);
    cq.tie_word_embeddings = false;
  }
  const std::function<Params(int64_t)> layer_params = [&](int64_t i) {
    Params p;
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    for (const ParamSpec& spec : parameter_specs(c))
      if (spec.name.rfind(prefix, 0) == 0) p[spec.name] = fetch(spec.name);
    return o.rotate ? merged(p, rotate_layer(c, i, fetch, rotation)) : p;
  };
  // A mix's embedding and head units, rounded to nearest before anything runs on them.
  const Params fp_globals = globals;
  std::map<std::string, QuantizedWeight> quantized_globals;
  for (const std::string name : {"model.embed_tokens.weight", "lm_head.weight"})
    if (const QuantScheme* s = o.mix ? o.scheme_for(name) : nullptr) {
      const torch::Tensor w = globals.count(name) ? globals.at(name) : fetch(name);
      QuantizedWeight q = quantize_weight(w, *s);
      globals[name] = q.dequant;
      quantized_globals[name.substr(0, name.size() - 7)] = std::move(q);
      result.notes.push_back("'" + name + "' rounded to nearest on " + s->name + " (its unit in the mix)");
    }
  std::vector<LayerSmoothing> aaq_smoothing;
  if (o.method == QuantMethod::Aaq) aaq_smoothing = train_aaq(c, cq, weights, globals, layer_params, batches, o, result);

  nlohmann::json log = nlohmann::json::array();
  std::vector<int> block_epochs;
  {
    std::vector<Llama::State> states = batches.empty() ? std::vector<Llama::State>{} : Llama(cq, weights, dev, globals).embed(batches);
    std::vector<Llama::State> fp_states =
        !learned || !o.fp_targets       ? std::vector<Llama::State>{}
        : quantized_globals.empty() ? states
                                    : Llama(cq, weights, dev, fp_globals).embed(batches);
    if (o.rotate || !quantized_globals.empty()) {
      Params dense = o.rotate ? merged(globals, {{kResidualRotation, rotation}}) : Params{};
      for (const auto& [name, q] : quantized_globals) dense.erase(name + ".weight");
      write_quant_layer(tmp.string(), -1, quantized_globals, o.scheme, o.mix, dense);
    }
    for (int64_t i = 0; i < c.num_layers; ++i) {
      o.progress.step(i, c.num_layers, "quantizing layers");
      const Params fp_layer = layer_params(i);
      // LWC (+ LET): learn this block's clip factors and smoothing, every weight frozen.
      LearnedBlock learned_block;
      if (learned) {
        // The block's reconstruction target: where the full-precision model is after it.
        std::vector<Llama::State> target = o.fp_targets ? fp_states : states;
        Llama(cq, weights, dev, merged(globals, fp_layer)).run_block(i, target, nullptr);
        const int epochs = !o.paper_epochs ? o.epochs : i < c.num_layers / 2 ? std::max(1, o.epochs - 5) : o.epochs + 5;
        block_epochs.push_back(epochs);
        learned_block = learn_block(cq, weights, globals, fp_layer, i, epochs, states, target, batches, cal.malicious, probes.layers, o, result);
        if (o.fp_targets) fp_states = std::move(target);
      }
      const LayerSmoothing* smoothing = o.method == QuantMethod::Aaq ? &aaq_smoothing[size_t(i)]
                                        : learned_block.smoothing ? &*learned_block.smoothing
                                                                  : nullptr;
      const Params layer = smoothing ? apply_smoothing(cq, fp_layer, i, *smoothing) : fp_layer;
      const Llama ref(cq, weights, dev, merged(globals, layer));
      // GPTQ (and AAQ, whose learned transforms are followed by GPTQ) rounds on the Hessians of
      // each linear's inputs, from the states the quantized layers below give.
      std::map<std::string, HessianAccumulator> hessians;
      if (method.rounds_gptq) hessians = input_hessians(ref, i, layer, states, batches, o.hessian_f64 ? torch::kFloat64 : torch::kFloat32);
      // Rotation and smoothing change parameters they do not quantize; the run keeps them.
      const RoundedLayer rounded = round_layer(layer, o.rotate || smoothing, hessians, learned_block.clips, o, result, log);
      write_quant_layer(tmp.string(), i, rounded.quantized, o.scheme, o.mix, rounded.dense);
      if (!states.empty()) {
        Llama qnet(cq, weights, dev, merged(globals, rounded.replaced));
        qnet.set_runtime_bits(o.scheme.a_bits, o.scheme.q_bits, o.scheme.kv_bits);
        qnet.run_block(i, states, nullptr);
      }
      ref.release_layer(i);
    }
    o.progress.step(c.num_layers, c.num_layers, "quantizing layers");
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_run_record(tmp.string(), run_record(model_dir, c, cq, o, cal, probes.from, block_epochs, result));
    write_atomically((tmp / "log.json").string(), [&](std::ostream& s) { s << log.dump(1) << "\n"; });
  }
  out.commit();
  return result;
}

}  // namespace sq
