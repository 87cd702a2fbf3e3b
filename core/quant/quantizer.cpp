#include "core/quant/quantizer.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/data/calibration.h"
#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/model/llama.h"
#include "core/model/model.h"
#include "core/probe/probe_run.h"
#include "core/quant/gptq.h"
#include "core/quant/lwc.h"
#include "core/quant/run_folder.h"
#include "core/version.h"

namespace sq {
namespace {

namespace fs = std::filesystem;

// Which hook point feeds each linear layer.
const std::pair<const char*, const char*> kInputs[] = {
    {"self_attn.q_proj", ".qkv_in"}, {"self_attn.k_proj", ".qkv_in"}, {"self_attn.v_proj", ".qkv_in"},
    {"self_attn.o_proj", ".o_in"},   {"mlp.gate_proj", ".mlp_in"},    {"mlp.up_proj", ".mlp_in"},
    {"mlp.down_proj", ".down_in"}};

bool targeted(const QuantScheme& s, const std::string& linear) {
  for (const std::string& t : s.targets)
    if (linear.size() >= t.size() && linear.compare(linear.size() - t.size(), t.size(), t) == 0) return true;
  return false;
}

// Trains sigmoid(theta) clip factors for block i's targeted linears by AdamW on the block
// objective; returns them by weight name.
std::map<std::string, torch::Tensor> learn_clipping(const ModelConfig& c, const std::shared_ptr<const Checkpoint>& weights,
                                                    const Llama& fp, int64_t i, const std::vector<Llama::State>& states,
                                                    const std::vector<Llama::Batch>& batches,
                                                    const std::vector<torch::Tensor>& malicious,
                                                    const std::vector<LayerProbe>& probes, const QuantizeOptions& o,
                                                    QuantizeResult& result) {
  const std::string prefix = "model.layers." + std::to_string(i) + ".";
  std::map<std::string, torch::Tensor> w, theta;
  for (const auto& [linear, input] : kInputs) {
    if (!targeted(o.scheme, linear)) continue;
    const std::string name = prefix + linear + ".weight";
    w[name] = as_tensor(weights->tensor(name)).to(torch::kFloat32);
    const int64_t rows = w[name].size(0), cols = w[name].size(1), g = group_width(o.scheme, rows, cols);
    theta[name] = torch::full({o.scheme.group < 0 ? 1 : rows, (o.scheme.group < 0 ? rows * cols : cols) / g}, 4.0)
                      .set_requires_grad(true);  // sigmoid(4) = 0.982, OmniQuant's start
  }
  std::vector<Llama::State> target = states;
  fp.run_block(i, target, nullptr);
  BlockObjective objective;
  if (o.method == "q-realign") {
    objective.q_realign = true;
    objective.probe_w = torch::tensor(probes[size_t(i)].w);
    objective.probe_b = probes[size_t(i)].b;
  }
  std::vector<torch::Tensor> params;
  for (auto& [name, t] : theta) params.push_back(t);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(0));
  torch::AutoGradMode grad(true);
  double last = 0;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    double sum = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      std::map<std::string, torch::Tensor> fq;
      for (const auto& [name, t] : theta) fq[name] = fake_quant_weight_ste(w[name], o.scheme, torch::sigmoid(t));
      Llama qnet(c, weights, fq);
      qnet.set_activation_bits(o.scheme.a_bits);
      std::vector<Llama::State> one = {states[b]};
      qnet.run_block(i, one, nullptr);
      const torch::Tensor loss = block_loss(one[0].x, target[b].x, batches[b].mask, malicious[b], objective);
      opt.zero_grad();
      loss.backward();
      opt.step();
      sum += loss.item<double>();
    }
    last = sum / double(batches.size());
  }
  result.notes.push_back("layer " + std::to_string(i) + ": final " + o.method + " block loss " + std::to_string(last));
  std::map<std::string, torch::Tensor> clips;
  for (const auto& [name, t] : theta) clips[name] = torch::sigmoid(t).detach();
  return clips;
}

}  // namespace

QuantizeResult quantize_model(const std::string& model_dir, const QuantizeOptions& o, const std::string& run_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.method != "rtn" && o.method != "gptq" && o.method != "lwc" && o.method != "q-realign")
    throw Error("method '" + o.method + "' is not implemented yet (available: rtn, gptq, lwc, q-realign)");
  const bool learned = o.method == "lwc" || o.method == "q-realign";
  if (run_dir.empty()) throw Error("no run folder given");
  const auto model = Model::load(model_dir);
  const ModelConfig& c = model->config();
  auto weights = std::make_shared<const Checkpoint>(model_dir);
  QuantizeResult result;
  result.run_dir = run_dir;

  // Calibration: chat-templated prompts, truncated to seq_len tokens, batched with left padding.
  std::vector<Prompt> calibration;
  std::vector<Llama::Batch> batches;
  std::vector<torch::Tensor> batch_malicious;
  if (o.method != "rtn") {
    calibration = draw_calibration(o.prompts, o.samples, o.ratio, o.seed);
    auto encoded = encode_prompts(*model, calibration, true);
    for (auto& e : encoded)
      if (int(e.size()) > o.seq_len) e.resize(size_t(o.seq_len));
    for (size_t at = 0; at < encoded.size(); at += size_t(o.batch_size)) {
      const size_t end = std::min(encoded.size(), at + size_t(o.batch_size));
      size_t T = 0;
      for (size_t i = at; i < end; ++i) T = std::max(T, encoded[i].size());
      const int64_t B = int64_t(end - at);
      torch::Tensor tokens = torch::zeros({B, int64_t(T)}, torch::kInt64), mask = torch::zeros({B, int64_t(T)}, torch::kInt64);
      for (int64_t b = 0; b < B; ++b) {
        const auto& e = encoded[at + size_t(b)];
        const int64_t off = int64_t(T - e.size());
        for (size_t j = 0; j < e.size(); ++j) tokens[b][off + int64_t(j)] = e[j];
        mask[b].narrow(0, off, int64_t(e.size())).fill_(1);
      }
      batches.push_back({tokens, mask});
      std::vector<int64_t> labels;
      for (size_t i = at; i < end; ++i) labels.push_back(calibration[i].label);
      batch_malicious.push_back(torch::tensor(labels).to(torch::kBool));
    }
  }
  // Q-realign's per-layer probes: SLR on the aligned model's activations when given (as the
  // paper's code does), else on the target's, over the calibration prompts.
  std::vector<LayerProbe> probes;
  if (o.method == "q-realign") {
    const auto probe_model = o.aligned_dir.empty() ? Model::load(model_dir) : Model::load(o.aligned_dir);
    if (probe_model->config().num_layers != c.num_layers || probe_model->config().hidden_size != c.hidden_size)
      throw Error(o.aligned_dir, "the aligned model's shape differs from " + model_dir);
    ProbeOptions po;
    po.progress = o.progress;
    probes = run_probe(*probe_model, calibration, po, "").layers;
  }

  const fs::path tmp = run_dir + ".part-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  nlohmann::json log = nlohmann::json::array();
  try {
    torch::NoGradGuard no_grad;
    const Llama fp(c, weights);
    std::vector<Llama::State> states = batches.empty() ? std::vector<Llama::State>{} : fp.embed(batches);
    std::map<std::string, torch::Tensor> done;  // this run's layer, dequantized, for propagating states
    for (int64_t i = 0; i < c.num_layers; ++i) {
      o.progress.step(i, c.num_layers, "quantizing layers");
      const std::string prefix = "model.layers." + std::to_string(i) + ".";
      const std::string point = "layer." + std::to_string(i);
      // GPTQ: Hessians of each linear's inputs, from the states the quantized layers below give.
      std::map<std::string, HessianAccumulator> hessians;
      if (o.method == "gptq") {
        for (const auto& [linear, input] : kInputs)
          if (!hessians.count(input)) {
            const std::string w = prefix + linear + ".weight";
            hessians.emplace(input, HessianAccumulator(weights->tensor(w).shape[1]));
          }
        std::vector<Llama::State> scratch = states;
        fp.run_block(i, scratch, [&](size_t b, const std::string& name, const torch::Tensor& v) {
          if (name.rfind(point, 0) != 0) return;
          auto it = hessians.find(name.substr(point.size()));
          if (it == hessians.end()) return;
          const torch::Tensor real = batches[b].mask.reshape({-1}).to(torch::kBool);
          it->second.add(v.reshape({-1, v.size(-1)}).index({real}));
        });
      }
      // LWC: learn each group's clip factor for this block, with every other weight frozen.
      std::map<std::string, torch::Tensor> clips;
      if (learned) clips = learn_clipping(c, weights, fp, i, states, batches, batch_malicious, probes, o, result);
      std::map<std::string, QuantizedWeight> layer;
      std::map<std::string, torch::Tensor> replaced;
      for (const auto& [linear, input] : kInputs) {
        const std::string name = prefix + linear + ".weight";
        if (!targeted(o.scheme, linear)) continue;
        const torch::Tensor w = as_tensor(weights->tensor(name)).to(torch::kFloat32);
        QuantizedWeight q;
        if (o.method == "gptq") {
          GptqOptions go;
          go.damp = o.damp;
          go.act_order = o.act_order;
          GptqResult g = gptq_quantize(w, hessians.at(input).hessian(), o.scheme, go);
          if (!g.note.empty()) result.notes.push_back(name + ": " + g.note);
          q = std::move(g.weight);
        } else if (learned) {
          q = quantize_weight(w, o.scheme, clips.at(name));
        } else {
          q = quantize_weight(w, o.scheme);
        }
        const double err = (q.dequant - w).pow(2).mean().item<double>() / std::max(1e-30, w.pow(2).mean().item<double>());
        log.push_back({{"tensor", name}, {"relative_mse", err}});
        replaced[name] = q.dequant;
        layer[name.substr(0, name.size() - 7)] = std::move(q);  // without ".weight"
      }
      write_quant_layer(tmp.string(), i, layer, o.scheme);
      if (!states.empty()) {
        Llama qnet(c, weights, replaced);
        qnet.set_activation_bits(o.scheme.a_bits);
        qnet.run_block(i, states, nullptr);
      }
      fp.release_layer(i);
    }
    o.progress.step(c.num_layers, c.num_layers, "quantizing layers");
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::string> ids;
    for (const Prompt& p : calibration) ids.push_back(p.id);
    const nlohmann::json run = {
        {"safequant", SAFEQUANT_VERSION},
        {"model", fs::absolute(model_dir).string()},
        {"model_type", c.model_type},
        {"layers", c.num_layers},
        {"method", o.method},
        {"scheme", nlohmann::json::parse(to_json(o.scheme))},
        {"calibration",
         {{"samples", calibration.size()}, {"ratio", o.ratio}, {"seq_len", o.seq_len}, {"seed", o.seed}, {"ids", ids}}},
        {"gptq", {{"damp", o.damp}, {"act_order", o.act_order}, {"block", 128}}},
        {"lwc", {{"epochs", o.epochs}, {"learning_rate", o.lr}, {"objective", o.method == "q-realign" ? "q-realign" : "reconstruction"},
                 {"probes_from", o.aligned_dir.empty() ? model_dir : o.aligned_dir}}},
        {"notes", result.notes},
        {"seconds", result.seconds}};
    write_atomically((tmp / "run.json").string(), [&](std::ostream& out) { out << run.dump(2) << "\n"; });
    write_atomically((tmp / "log.json").string(), [&](std::ostream& out) { out << log.dump(1) << "\n"; });
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::remove_all(run_dir, ec);
  fs::rename(tmp, run_dir);
  return result;
}

}  // namespace sq
