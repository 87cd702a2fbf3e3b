#include "core/quant/quantizer.h"

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
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
#include "core/quant/aaq.h"
#include "core/quant/gptq.h"
#include "core/quant/lwc.h"
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

// A tensor of the shape of a weight's clip factors: [rows, groups], or [1, groups] per tensor.
torch::Tensor clip_shape(const torch::Tensor& w, const QuantScheme& s) {
  const int64_t rows = w.size(0), cols = w.size(1), g = group_width(s, rows, cols);
  return torch::zeros({s.group < 0 ? 1 : rows, (s.group < 0 ? rows * cols : cols) / g}, beside(w));
}

using Params = std::map<std::string, torch::Tensor>;

Params merged(Params a, const Params& b) {
  for (const auto& [k, v] : b) a[k] = v;
  return a;
}

// Per channel max |x| at the q/k/v, o_proj and gate/up inputs of block i, over real tokens.
InputAbsMax input_absmax(const Llama& net, int64_t i, const std::vector<Llama::State>& states, const std::vector<Llama::Batch>& batches) {
  const std::string point = "layer." + std::to_string(i);
  InputAbsMax m;
  std::vector<Llama::State> scratch = states;
  net.run_block(i, scratch, [&](size_t b, const std::string& name, const torch::Tensor& v) {
    torch::Tensor* acc = name == point + ".qkv_in" ? &m.attn : name == point + ".mlp_in" ? &m.mlp : name == point + ".o_in" ? &m.out : nullptr;
    if (!acc) return;
    const torch::Tensor real = batches[b].mask.reshape({-1}).to(torch::kBool);
    const torch::Tensor mx = v.reshape({-1, v.size(-1)}).index({real}).abs().amax(0);
    *acc = acc->defined() ? torch::maximum(*acc, mx) : mx;
  });
  return m;
}

// Layer i's parameters as the quantized model computes with them while training: smoothed, and
// the targeted linears fake-quantized with straight-through rounding.
Params fake_quantized_layer(const ModelConfig& c, const Params& layer, int64_t i, const LayerSmoothing* smoothing,
                            const Params& clip_logits, const QuantScheme& scheme) {
  Params out = smoothing ? apply_smoothing(c, layer, i, *smoothing) : layer;
  for (auto& [name, w] : out) {
    if (!scheme.quantizes(name)) continue;
    auto it = clip_logits.find(name);
    const torch::Tensor clip = it != clip_logits.end() ? torch::sigmoid(it->second) : torch::ones_like(clip_shape(w, scheme));
    w = fake_quant_weight_ste(w, scheme, clip);
  }
  return out;
}

struct LearnedBlock {
  Params clips;                            // by weight name
  std::optional<LayerSmoothing> smoothing;
};

// LWC (+ LET): trains block i's clip factors sigmoid(theta) and smoothing scales by AdamW on the
// block objective, every weight itself frozen, as OmniQuant does.
// `states` are the block's inputs in the quantized model; `target` the outputs it reconstructs.
LearnedBlock learn_block(const ModelConfig& cq, const std::shared_ptr<const Checkpoint>& weights, const Params& globals,
                         const Params& layer, int64_t i, int epochs, const std::vector<Llama::State>& states,
                         const std::vector<Llama::State>& target, const std::vector<Llama::Batch>& batches,
                         const std::vector<torch::Tensor>& malicious, const std::vector<LayerProbe>& probes, const QuantizeOptions& o,
                         QuantizeResult& result) {
  const torch::Device dev = torch_device(o.device);
  const Llama fp(cq, weights, dev, merged(globals, layer));
  Params theta;
  std::vector<torch::Tensor> params;
  for (const auto& [name, w] : layer)
    if (o.scheme.quantizes(name)) {
      theta[name] = torch::full_like(clip_shape(w, o.scheme), 4.0).set_requires_grad(true);  // sigmoid(4) = 0.982, OmniQuant's start
      params.push_back(theta[name]);
    }
  LearnedBlock out;
  std::vector<torch::Tensor> scales;
  if (o.smooth) {
    out.smoothing = init_smoothing(cq, layer, i, input_absmax(fp, i, states, batches));
    scales = out.smoothing->trainable();
  }
  BlockObjective objective;
  if (o.method == QuantMethod::QRealign) {
    objective.q_realign = true;
    objective.probe_w = torch::tensor(probes[size_t(i)].w, torch::TensorOptions().device(dev));
    objective.probe_b = probes[size_t(i)].b;
  }
  // OmniQuant's learning rates: clipping o.lr, smoothing a tenth of it (scales move the whole
  // block's function, clip factors one group's range).
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(0)));
  if (!scales.empty())
    groups.emplace_back(scales, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr / 10).weight_decay(0)));
  torch::optim::AdamW opt(std::move(groups));
  torch::AutoGradMode grad(true);
  double first = 0, last = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    double sum = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      if (o.progress.cancel) o.progress.cancel->check();  // training a block can take a while
      Llama qnet(cq, weights, dev, merged(globals, fake_quantized_layer(cq, layer, i, out.smoothing ? &*out.smoothing : nullptr, theta, o.scheme)));
      qnet.set_runtime_bits(o.scheme.a_bits, o.scheme.q_bits, o.scheme.kv_bits);
      std::vector<Llama::State> one = {states[b]};
      qnet.run_block(i, one, nullptr);
      const torch::Tensor loss = block_loss(one[0].x, target[b].x, batches[b].mask, malicious[b], objective);
      opt.zero_grad();
      loss.backward();
      opt.step();
      sum += loss.item<double>();
    }
    last = sum / double(batches.size());
    if (epoch == 0) first = last;
    result.loss_curve.emplace_back("layer " + std::to_string(i), last);
    if (o.on_loss) o.on_loss("layer " + std::to_string(i), last);
  }
  result.notes.push_back("layer " + std::to_string(i) + ": " + info(o.method).name + " block loss " + std::to_string(first) + " (first epoch) -> " +
                         std::to_string(last) + " (last)");
  for (const auto& [name, t] : theta) out.clips[name] = torch::sigmoid(t).detach();
  if (out.smoothing) out.smoothing = out.smoothing->detached();
  return out;
}

// Bytes of memory available now (MemAvailable), or 0 when unknown.
double available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  while (in >> key >> kb)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// AAQ: smoothing scales of every layer trained end to end on the contrastive logit objective
// (the model's own full-precision outputs as teacher, as OSTQuant's trainer computes it, and its
// unaligned base pushed away), with the quantized model's weights and per-token activations
// fake-quantized in the loop.
std::vector<LayerSmoothing> train_aaq(const ModelConfig& c, const ModelConfig& cq, const std::shared_ptr<const Checkpoint>& weights,
                                      const Params& globals, const std::function<Params(int64_t)>& layer_params,
                                      const std::vector<Llama::Batch>& batches, const QuantizeOptions& o, QuantizeResult& result) {
  const torch::Device dev = torch_device(o.device);
  const auto base_ckpt = std::make_shared<const Checkpoint>(o.base_dir);
  const ModelConfig bc = load_config((fs::path(o.base_dir) / "config.json").string());
  if (bc.vocab_size != c.vocab_size)
    throw Error(o.base_dir, "the base model's vocabulary (" + std::to_string(bc.vocab_size) + ") differs from the model's (" +
                                std::to_string(c.vocab_size) + "); AAQ compares their logits token by token");
  // Three models resident, the trained one with gradients, plus each batch's activations.
  int64_t longest = 0, rows = 0;
  for (const auto& b : batches) longest = std::max(longest, b.tokens.size(1)), rows = std::max(rows, b.tokens.size(0));
  const double need = double(c.parameter_count() + bc.parameter_count()) * 4 * 3 +
                      double(rows * longest) * double(c.vocab_size * 4 + c.hidden_size * c.num_layers * 24) * 4;
  const double have = available_bytes();
  if (have > 0 && need > 0.8 * have)
    throw Error("aaq trains the whole model end to end: it needs about " + std::to_string(int(need / 1e9 + 1)) + " GB and " +
                std::to_string(int(have / 1e9)) + " GB are available. Use fewer --samples or a shorter --seq-len, or q-realign, "
                "which calibrates one block at a time");

  std::vector<AaqTargets> targets;
  {
    torch::NoGradGuard no_grad;
    // The teacher is the model itself in full precision; distilling from another model is the
    // separate, explicitly named --teacher.
    const Llama base(bc, base_ckpt, dev);
    const Llama teacher = o.teacher_dir.empty()
                              ? Llama(c, weights, dev)
                              : Llama(load_config((fs::path(o.teacher_dir) / "config.json").string()),
                                      std::make_shared<const Checkpoint>(o.teacher_dir), dev);
    if (teacher.config().vocab_size != c.vocab_size) throw Error(o.teacher_dir, "the teacher's vocabulary differs from the model's");
    for (const auto& b : batches)
      targets.push_back(aaq_targets(teacher.forward(b.tokens, b.mask, nullptr), base.forward(b.tokens, b.mask, nullptr), o.top_k));
  }
  std::vector<Params> layers;
  Params full = globals;
  for (int64_t i = 0; i < c.num_layers; ++i) layers.push_back(layer_params(i)), full = merged(full, layers.back());
  for (const ParamSpec& spec : parameter_specs(cq))
    if (!full.count(spec.name)) full[spec.name] = as_tensor(weights->tensor(spec.name)).to(dev, torch::kFloat32);
  // SmoothQuant's start from the full-precision activations, then AdamW on the objective.
  std::vector<LayerSmoothing> smoothing;
  {
    torch::NoGradGuard no_grad;
    const Llama fp(cq, full);
    std::vector<Llama::State> states = fp.embed(batches);
    for (int64_t i = 0; i < c.num_layers; ++i) {
      smoothing.push_back(init_smoothing(cq, layers[size_t(i)], i, input_absmax(fp, i, states, batches)));
      fp.run_block(i, states, nullptr);
    }
  }
  std::vector<torch::Tensor> params;
  for (auto& s : smoothing)
    for (const torch::Tensor& t : s.trainable()) params.push_back(t);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(0));
  torch::AutoGradMode grad(true);
  auto epoch_means = [&](bool train) {
    double loss = 0, pull = 0, push = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      if (o.progress.cancel) o.progress.cancel->check();
      Params t = full;
      for (int64_t i = 0; i < c.num_layers; ++i) t = merged(t, fake_quantized_layer(cq, layers[size_t(i)], i, &smoothing[size_t(i)], {}, o.scheme));
      Llama q(cq, t);
      q.set_runtime_bits(o.scheme.a_bits, o.scheme.q_bits, o.scheme.kv_bits);
      const AaqLoss l = aaq_loss(q.forward(batches[b].tokens, batches[b].mask, nullptr), targets[b], batches[b].mask, o.lambda);
      if (train) {
        opt.zero_grad();
        l.loss.backward();
        opt.step();
      }
      loss += l.loss.item<double>(), pull += l.pull.item<double>(), push += l.push.item<double>();
    }
    const double n = double(batches.size());
    return std::array<double, 3>{loss / n, pull / n, push / n};
  };
  auto describe = [](const std::array<double, 3>& m) {
    return "loss " + std::to_string(m[0]) + " (KL to the teacher " + std::to_string(m[1]) + ", KL to base " + std::to_string(m[2]) + ")";
  };
  auto evaluate = [&] {
    torch::NoGradGuard no_grad;
    return epoch_means(false);
  };
  // The straight-through gradient is noisy: the scales of the best epoch are kept.
  const auto before = evaluate();
  auto best = before;
  int best_epoch = 0;
  std::vector<LayerSmoothing> kept;
  for (const auto& s : smoothing) kept.push_back(s.detached());
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    o.progress.step(epoch, o.epochs, "aaq epochs");
    epoch_means(true);
    const auto now = evaluate();
    result.loss_curve.emplace_back("aaq", now[0]);
    if (o.on_loss) o.on_loss("aaq", now[0]);
    if (now[0] < best[0]) {
      best = now, best_epoch = epoch + 1;
      for (size_t i = 0; i < smoothing.size(); ++i) kept[i] = smoothing[i].detached();
    }
  }
  result.notes.push_back("aaq before training: " + describe(before));
  result.notes.push_back("aaq best (epoch " + std::to_string(best_epoch) + " of " + std::to_string(o.epochs) + "): " + describe(best));
  result.aaq_before = {before[0], before[1], before[2]};
  result.aaq_after = {best[0], best[1], best[2]};
  smoothing = kept;
  return smoothing;
}

// Hessians of block i's linear inputs (by hook suffix: ".qkv_in", ...), over real tokens.
std::map<std::string, HessianAccumulator> input_hessians(const Llama& block, int64_t i, const Params& layer,
                                                         const std::vector<Llama::State>& states, const std::vector<Llama::Batch>& batches) {
  const std::string point = "layer." + std::to_string(i);
  std::map<std::string, HessianAccumulator> hessians;
  for (const auto& [linear, input] : kInputs)
    if (!hessians.count(input))
      hessians.emplace(input, HessianAccumulator(layer.at("model.layers." + std::to_string(i) + "." + linear + ".weight").size(1),
                                                 block.device()));
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
// with each batch's malicious rows.
struct CalibrationBatches {
  std::vector<Prompt> prompts;
  std::vector<Stratum> composition;
  std::vector<Llama::Batch> batches;
  std::vector<torch::Tensor> malicious;
  ChatRecord chat;
};

CalibrationBatches calibration_batches(const Model& model, const QuantizeOptions& o) {
  CalibrationBatches out;
  CalibrationDraw draw = draw_calibration(o.prompts, o.samples, o.ratio, o.seed);
  out.prompts = std::move(draw.prompts);
  out.composition = std::move(draw.composition);
  auto encoded = encode_prompts(model, out.prompts, o.chat, &out.chat);
  for (auto& e : encoded)
    if (int(e.size()) > o.seq_len) e.resize(size_t(o.seq_len));
  const torch::Device dev = torch_device(o.device);
  out.batches = Llama::left_padded(encoded, size_t(o.batch_size), dev);
  for (size_t at = 0; at < encoded.size(); at += size_t(o.batch_size)) {
    std::vector<int64_t> labels;
    for (size_t i = at; i < std::min(encoded.size(), at + size_t(o.batch_size)); ++i) labels.push_back(out.prompts[i].label);
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
  if (method.learns_blocks && o.scheme.gguf_exact())
    throw Error(std::string(method.name) + " learns clipping ranges, which llama.cpp's block grids fix; use rtn or gptq with " + o.scheme.name);
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
    if (!o.scheme.quantizes(name)) {
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
      GptqResult g = gptq_quantize(w, hessians.at(input).hessian(), o.scheme, go);
      if (!g.note.empty()) result.notes.push_back(name + ": " + g.note);
      q = std::move(g.weight);
    } else if (method.learns_blocks) {
      q = quantize_weight(w, o.scheme, clips.at(name));
    } else {
      q = quantize_weight(w, o.scheme);
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
  run.untied = cq.tie_word_embeddings != c.tie_word_embeddings;
  if (o.rotate)
    run.rotation = RunRecord::Rotation{(c.hidden_size & (c.hidden_size - 1)) == 0 ? "randomized hadamard" : "random orthogonal", o.seed};
  run.calibration = {int(cal.prompts.size()), o.seq_len, o.ratio, o.seed, cal.composition, {},
                     cal.chat.template_name, cal.chat.system, cal.chat.date};
  for (const Prompt& p : cal.prompts) run.calibration.ids.push_back(p.id);
  run.gptq = {o.damp, o.act_order, 128};
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
  std::vector<LayerSmoothing> aaq_smoothing;
  if (o.method == QuantMethod::Aaq) aaq_smoothing = train_aaq(c, cq, weights, globals, layer_params, batches, o, result);

  nlohmann::json log = nlohmann::json::array();
  std::vector<int> block_epochs;
  {
    std::vector<Llama::State> states = batches.empty() ? std::vector<Llama::State>{} : Llama(cq, weights, dev, globals).embed(batches);
    std::vector<Llama::State> fp_states = learned && o.fp_targets ? states : std::vector<Llama::State>{};
    if (o.rotate) write_quant_layer(tmp.string(), -1, {}, o.scheme, merged(globals, {{kResidualRotation, rotation}}));
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
      if (method.rounds_gptq) hessians = input_hessians(ref, i, layer, states, batches);
      // Rotation and smoothing change parameters they do not quantize; the run keeps them.
      const RoundedLayer rounded = round_layer(layer, o.rotate || smoothing, hessians, learned_block.clips, o, result, log);
      write_quant_layer(tmp.string(), i, rounded.quantized, o.scheme, rounded.dense);
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
