#include "core/export/safetensors_export.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/model/compressed_tensors.h"
#include "core/model/llama.h"

namespace sq {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Tensors to write, kept alive until the file is written.
struct TensorList {
  std::vector<torch::Tensor> keep;
  std::vector<TensorData> list;
  void add(const std::string& name, torch::Tensor t) {
    keep.push_back(t.contiguous());
    const torch::Tensor& k = keep.back();
    const DType d = k.scalar_type() == torch::kBFloat16 ? DType::BF16
                    : k.scalar_type() == torch::kFloat16 ? DType::F16
                    : k.scalar_type() == torch::kInt8    ? DType::I8
                    : k.scalar_type() == torch::kInt32   ? DType::I32
                    : k.scalar_type() == torch::kInt64   ? DType::I64
                                                         : DType::F32;
    list.push_back({name, d, k.sizes().vec(), k.data_ptr(), size_t(k.numel() * k.element_size())});
  }
};

void write_json(const fs::path& p, const json& j) {
  write_atomically(p.string(), [&](std::ostream& o) { o << j.dump(2) << "\n"; });
}

void copy_tokenizer_files(const std::string& model_dir, const fs::path& dir) {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                        "tokenizer.model"}) {
    const fs::path from = fs::path(model_dir) / f;
    if (!fs::exists(from)) continue;
    std::error_code ec;
    fs::copy_file(from, dir / f, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error((dir / f).string(), "cannot copy " + from.string() + ": " + ec.message());
  }
}

torch::ScalarType torch_type(DType d) {
  return d == DType::BF16 ? torch::kBFloat16 : d == DType::F16 ? torch::kFloat16 : torch::kFloat32;
}

json quant_args(const QuantScheme& s) {
  const bool grouped = s.group > 0;
  return {{"num_bits", s.w_bits}, {"type", "int"}, {"symmetric", true},
          {"strategy", grouped ? "group" : s.group < 0 ? "tensor" : "channel"},
          {"group_size", grouped ? json(s.group) : json()}, {"dynamic", false}, {"actorder", nullptr},
          {"block_structure", nullptr}, {"observer", "minmax"}, {"observer_kwargs", json::object()}};
}

}  // namespace

QuantScheme compressed_tensors_scheme(const std::string& format) {
  return parse_scheme(format == "ct-w8a8" ? "w8a8-sym" : "w4a16-g128-sym");
}

QuantScheme compressed_tensors_scheme_of(const QuantScheme& s) {
  if (s.w_kind == kernels::GridKind::Symmetric) return s;
  // Llama.cpp's grids hold groups of 32 (K-quants: sub-blocks of 16 or 32); others keep theirs.
  const int64_t group = s.gguf_exact() ? 32 : s.group;
  return parse_scheme("w" + std::to_string(s.w_bits) + "a16" + (group > 0 ? "-g" + std::to_string(group) : group < 0 ? "-gt" : "") + "-sym");
}

namespace {

// The decoder linears of a mixed run by the scheme each is written in: linears only, since
// compressed-tensors quantizes Linear modules (a mix's embedding or head is written dense).
std::map<std::string, QuantScheme> mixed_linears(const WeightSource& src) {
  std::map<std::string, QuantScheme> out;
  for (const auto& [param, scheme] : src.run()->mix->schemes)
    if (param.rfind("model.layers.", 0) == 0) out.emplace(param, compressed_tensors_scheme_of(scheme));
  return out;
}

std::string escaped(const std::string& name) {
  std::string out;
  for (char ch : name) out += ch == '.' ? std::string("\\.") : std::string(1, ch);
  return out;
}

}  // namespace

bool compressed_tensors_exact(const WeightSource& src, const std::string& format) {
  if (!src.run()) return false;
  if (format == "ct-mixed") {
    if (!src.run()->mix) return false;
    for (const auto& [param, written] : mixed_linears(src))
      if (written.name != src.run()->scheme_for(param)->name) return false;  // re-quantized
    return true;
  }
  const QuantScheme& r = src.run()->scheme;
  const QuantScheme want = compressed_tensors_scheme(format);
  const bool group_ok = format == "ct-w8a8" ? r.group == 0 : (r.group == 0 || r.group == 32 || r.group == 64 || r.group == 128);
  return r.w_kind == kernels::GridKind::Symmetric && r.w_bits == want.w_bits && r.a_bits == want.a_bits && group_ok;
}

void write_compressed_tensors_model(WeightSource& src, const std::string& format, const std::string& dir,
                                    const Progress& progress) {
  const ModelConfig& c = src.config();
  const bool mixed = format == "ct-mixed";
  if (mixed && (!src.run() || !src.run()->mix)) throw Error(src.model_dir(), "ct-mixed writes a mixed-precision run; it needs one");
  const bool exact = compressed_tensors_exact(src, format);
  const QuantScheme uniform = exact && !mixed ? src.run()->scheme : compressed_tensors_scheme(format);
  const std::map<std::string, QuantScheme> by_weight = mixed ? mixed_linears(src) : std::map<std::string, QuantScheme>{};
  const bool packed = format != "ct-w8a8";
  TensorList out;
  const auto specs = parameter_specs(c);
  int64_t done = 0;
  for (const ParamSpec& spec : specs) {
    progress.step(done++, int64_t(specs.size()), "weights");
    const auto own = by_weight.find(spec.name);
    const QuantScheme* target = mixed ? (own == by_weight.end() ? nullptr : &own->second) : uniform.quantizes(spec.name) ? &uniform : nullptr;
    if (!target) {
      // A mix's quantized embedding or head is kept exact in fp32; the rest in its stored type.
      const bool keep_exact = mixed && src.run()->scheme_for(spec.name);
      out.add(spec.name, src.dense(spec.name).to(keep_exact ? torch::kFloat32 : torch_type(src.stored_dtype(spec.name))));
      continue;
    }
    const QuantScheme& scheme = *target;
    const bool own_codes = mixed ? src.run()->scheme_for(spec.name)->name == scheme.name : exact;
    const QuantizedWeight* q = own_codes ? src.quantized(spec.name) : nullptr;
    const QuantizedWeight r = q ? QuantizedWeight{} : quantize_weight(src.dense(spec.name), scheme);
    const QuantizedWeight& w = q ? *q : r;
    const std::string base = spec.name.substr(0, spec.name.size() - std::string(".weight").size());
    const torch::ScalarType scale_type = torch_type(src.stored_dtype(spec.name));
    // Exact scales need fp32; a half-precision model gets its own dtype, as vLLM expects.
    const torch::Tensor scale = w.scales.to(scale_type == torch::kFloat32 ? torch::kFloat32 : scale_type);
    if (packed) {
      out.add(base + ".weight_packed", pack_int32(w.codes, scheme.w_bits));
      out.add(base + ".weight_scale", scale);
      out.add(base + ".weight_shape", torch::tensor(spec.shape, host(torch::kInt64)));  // host: written to the file
    } else {
      out.add(base + ".weight", w.codes.to(torch::kInt8));
      out.add(base + ".weight_scale", scale);
    }
  }
  write_safetensors((fs::path(dir) / "model.safetensors").string(), out.list, {{"format", "pt"}});

  const std::string weight_format = packed ? "pack-quantized" : "int-quantized";
  auto group_of = [&](const QuantScheme& scheme, json targets) {
    json group = {{"targets", std::move(targets)}, {"weights", quant_args(scheme)}, {"output_activations", nullptr}, {"format", weight_format}};
    group["input_activations"] =
        packed ? json()
               : json{{"num_bits", 8}, {"type", "int"}, {"symmetric", true}, {"strategy", "token"}, {"dynamic", true},
                      {"group_size", nullptr}, {"actorder", nullptr}, {"block_structure", nullptr},
                      {"observer", nullptr}, {"observer_kwargs", json::object()}};
    return group;
  };
  json groups = json::object();
  if (!mixed) {
    groups["group_0"] = group_of(uniform, {"Linear"});
  } else {
    // One group per scheme; its targets are the units on it, each one anchored pattern over the
    // unit's linears, so that the parts vLLM fuses (q/k/v, gate/up) share a group.
    std::map<std::string, std::pair<QuantScheme, json>> by_scheme;
    for (const MixUnit& u : src.run()->mix->units) {
      std::string modules;
      for (const std::string& p : u.params)
        if (by_weight.count(p)) modules += (modules.empty() ? "" : "|") + escaped(p.substr(0, p.size() - 7));
      if (modules.empty()) continue;
      const QuantScheme& s = by_weight.at(u.params.front());
      auto& [scheme, targets] = by_scheme.emplace(s.name, std::make_pair(s, json::array())).first->second;
      targets.push_back("re:^(" + modules + ")$");
    }
    for (auto& [name, entry] : by_scheme) groups["group_" + std::to_string(groups.size())] = group_of(entry.first, entry.second);
  }
  json config = read_json_file((fs::path(src.model_dir()) / "config.json").string());
  config["tie_word_embeddings"] = c.tie_word_embeddings;
  config["quantization_config"] = {{"quant_method", "compressed-tensors"},
                                   {"format", weight_format},
                                   {"quantization_status", "compressed"},
                                   {"config_groups", groups},
                                   {"ignore", {"lm_head"}},
                                   {"kv_cache_scheme", nullptr},
                                   {"sparsity_config", json::object()}};
  write_json(fs::path(dir) / "config.json", config);
  copy_tokenizer_files(src.model_dir(), dir);
}

void write_bf16_model(WeightSource& src, const std::string& dir, const Progress& progress) {
  TensorList out;
  const auto specs = parameter_specs(src.config());
  int64_t done = 0;
  for (const ParamSpec& spec : specs) {
    progress.step(done++, int64_t(specs.size()), "weights");
    out.add(spec.name, src.dense(spec.name).to(torch::kBFloat16));
  }
  write_safetensors((fs::path(dir) / "model.safetensors").string(), out.list, {{"format", "pt"}});
  json config = read_json_file((fs::path(src.model_dir()) / "config.json").string());
  config["torch_dtype"] = "bfloat16";
  config["tie_word_embeddings"] = src.config().tie_word_embeddings;
  config.erase("quantization_config");
  write_json(fs::path(dir) / "config.json", config);
  copy_tokenizer_files(src.model_dir(), dir);
}

}  // namespace sq
