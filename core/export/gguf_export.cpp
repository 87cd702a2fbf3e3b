#include "core/export/gguf_export.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/export/gguf_types.h"
#include "core/io/ggml_blocks.h"
#include "core/quantized/ggml_grid.h"
#include "core/run/threads.h"
#include "core/model/gguf_layout.h"
#include "core/model/gguf_vocab.h"
#include "core/model/llama.h"

namespace sq {
namespace {

using kernels::GridKind;

// The run's scheme for weight `hf`, if it quantized it.
const QuantScheme* run_scheme(const WeightSource& src, const std::string& hf) { return src.run() ? src.run()->scheme_for(hf) : nullptr; }

// The run's grid for weight `hf` when it is the ggml type `t` itself: then its codes (or blocks) are the file's.
bool run_grid_is(const WeightSource& src, const std::string& hf, GgmlType t) {
  const QuantScheme* s = run_scheme(src, hf);
  return s && s->a_bits == 16 && s->gguf_exact() && gguf_type_of_scheme(*s) == t;
}

GgmlType float_type(DType d) { return d == DType::F16 ? GgmlType::F16 : d == DType::BF16 ? GgmlType::BF16 : GgmlType::F32; }

// How the type rule sees one of the model's parameters.
GgufTensorRole role_of(const WeightSource& src, const ParamSpec& spec) {
  const ModelConfig& c = src.config();
  const QuantScheme* s = run_scheme(src, spec.name);
  GgufTensorRole role{gguf_tensor_name(spec.name), std::vector<int64_t>(spec.shape.rbegin(), spec.shape.rend()),
                      src.run() ? s != nullptr : QuantScheme{}.quantizes(spec.name), float_type(src.stored_dtype(spec.name)),
                      c.num_layers, c.tie_word_embeddings};
  if (s) role.run_type = gguf_type_of_scheme(*s);
  return role;
}

// general.file_type of a file whose types the run chose: that of the type most of its matrices
// take, as llama.cpp guesses a file type it is not told (F16 where no file type has it as base).
uint32_t majority_ftype(const WeightSource& src, const GgufFileTypeInfo& type) {
  std::map<GgmlType, int> count;
  for (const ParamSpec& spec : parameter_specs(src.config()))
    if (spec.shape.size() == 2) ++count[gguf_tensor_type(type, role_of(src, spec))];
  const GgmlType most = std::max_element(count.begin(), count.end(), [](const auto& a, const auto& b) { return a.second < b.second; })->first;
  for (const GgufFileTypeInfo& t : gguf_file_types())
    if (t.rule == GgufRule::Single && t.base == most) return t.llama_ftype;
  return 1;
}

std::vector<uint8_t> floats_of(const torch::Tensor& t, GgmlType type) {
  const torch::Tensor c = t.to(torch::kFloat32).contiguous();
  return encode_floats(type, c.data_ptr<float>(), c.numel());
}

std::vector<uint8_t> blocks_of(const torch::Tensor& codes, const torch::Tensor& scales, GgmlType type) {
  const torch::Tensor c = codes.to(torch::kInt32).contiguous(), s = scales.to(torch::kFloat32).contiguous();
  return encode_quant_blocks(type, c.data_ptr<int32_t>(), s.data_ptr<float>(), c.numel());
}

GgufMetadata model_metadata(const ModelConfig& c, const GgufFileTypeInfo& type, const std::string& name) {
  const std::string a = gguf_architecture(c);
  GgufMetadata md = {{"general.architecture", GgufValue::string(a)},
                     {"general.name", GgufValue::string(name)},
                     {"general.file_type", GgufValue::u32(type.llama_ftype)},
                     {"general.alignment", GgufValue::u32(32)},
                     {a + ".vocab_size", GgufValue::u32(uint32_t(c.vocab_size))},
                     {a + ".context_length", GgufValue::u32(uint32_t(c.max_position_embeddings))},
                     {a + ".embedding_length", GgufValue::u32(uint32_t(c.hidden_size))},
                     {a + ".block_count", GgufValue::u32(uint32_t(c.num_layers))},
                     {a + ".feed_forward_length", GgufValue::u32(uint32_t(c.intermediate_size))},
                     {a + ".attention.head_count", GgufValue::u32(uint32_t(c.num_heads))},
                     {a + ".attention.head_count_kv", GgufValue::u32(uint32_t(c.num_kv_heads))},
                     {a + ".attention.key_length", GgufValue::u32(uint32_t(c.head_dim))},
                     {a + ".attention.value_length", GgufValue::u32(uint32_t(c.head_dim))},
                     {a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(float(c.rms_norm_eps))},
                     {a + ".rope.dimension_count", GgufValue::u32(uint32_t(c.head_dim))},
                     {a + ".rope.freq_base", GgufValue::f32(float(c.rope_theta))}};
  if (!ggml_is_float(type.base)) md.push_back({"general.quantization_version", GgufValue::u32(2)});
  if (c.rope_scaling.type == "linear") {
    md.push_back({a + ".rope.scaling.type", GgufValue::string("linear")});
    md.push_back({a + ".rope.scaling.factor", GgufValue::f32(float(c.rope_scaling.factor))});
  }
  // llama.cpp takes llama3 scaling as per-frequency factors (rope_freqs.weight); the HF
  // parameters are kept too so that this engine reads the file back with the same config.
  if (c.rope_scaling.type == "llama3") {
    const RopeScaling& r = c.rope_scaling;
    md.push_back({"safequant.hf_rope_scaling",
                  GgufValue::string(nlohmann::json{{"rope_type", "llama3"}, {"factor", r.factor},
                                                   {"low_freq_factor", r.low_freq_factor},
                                                   {"high_freq_factor", r.high_freq_factor},
                                                   {"original_max_position_embeddings", r.original_max_position_embeddings}}
                                        .dump())});
  }
  return md;
}

// The rows of a [rows, cols] weight in a block type, as llama.cpp's reference quantizer writes them.
std::vector<uint8_t> encode_rows(const torch::Tensor& w, GgmlType type) {
  fit_threads();  // rows encode independently: the bytes are the same at any thread count
  if (type == GgmlType::Q8_0 || type == GgmlType::Q4_0) {
    const QuantizedWeight r = quantize_weight(w, parse_scheme(type == GgmlType::Q8_0 ? "gguf-q8_0" : "gguf-q4_0"));
    return blocks_of(r.codes, r.scales, type);
  }
  const torch::Tensor b = encode_ggml_blocks(w, type);
  return std::vector<uint8_t>(b.data_ptr<uint8_t>(), b.data_ptr<uint8_t>() + b.numel());
}

}  // namespace

bool gguf_blocks_exact(const WeightSource& src, const GgufFileTypeInfo& type) {
  if (!src.run() || type.rule == GgufRule::LlamaMix || ggml_is_float(type.base)) return false;
  bool any = false;
  for (const ParamSpec& spec : parameter_specs(src.config())) {
    if (spec.shape.size() != 2 || !run_scheme(src, spec.name)) continue;
    if (!run_grid_is(src, spec.name, gguf_tensor_type(type, role_of(src, spec)))) return false;
    any = true;
  }
  return any;
}

void write_gguf_model(WeightSource& src, const GgufFileTypeInfo& type, const std::string& name, const std::string& path,
                      const Progress& progress) {
  const ModelConfig& c = src.config();
  GgufFileTypeInfo ft = type;
  if (type.rule == GgufRule::RunSchemes) {
    if (!src.run() || !src.run()->mix) throw Error(src.model_dir(), std::string(type.format) + " writes a mixed-precision run's own types; it needs one");
    ft.llama_ftype = majority_ftype(src, type);
  }
  GgufMetadata md = model_metadata(c, ft, name);
  for (auto& kv : gguf_vocab_metadata(src.model_dir(), c)) md.push_back(std::move(kv));

  std::vector<GgufTensorOut> tensors;
  if (c.rope_scaling.type == "llama3") {
    tensors.push_back({"rope_freqs.weight", GgmlType::F32, {c.head_dim / 2}, [c] {
                         ModelConfig plain = c;
                         plain.rope_scaling = RopeScaling{};
                         return floats_of(inverse_frequencies(plain, torch::kCPU) / inverse_frequencies(c, torch::kCPU), GgmlType::F32);  // host: written to a file
                       }});
  }
  for (const ParamSpec& spec : parameter_specs(c)) {
    const std::string hf = spec.name;
    const GgufTensorRole role = role_of(src, spec);
    const GgmlType t = gguf_tensor_type(type, role);
    GgufTensorOut out{role.name, t, role.ne, nullptr};
    if (spec.shape.size() == 1) {
      out.produce = [&src, hf, &c] { return floats_of(gguf_row_order(src.dense(hf), hf, c, false), GgmlType::F32); };
    } else if (ggml_is_float(t)) {
      out.produce = [&src, hf, &c, t] { return floats_of(gguf_row_order(src.dense(hf), hf, c, false), t); };
    } else {
      if (spec.shape[1] % ggml_block_size(t) != 0)
        throw Error(src.model_dir(), std::string(ggml_type_name(t)) + " needs rows of a multiple of " + std::to_string(ggml_block_size(t)) +
                                         " values; '" + hf + "' has " + std::to_string(spec.shape[1]) + " columns" +
                                         (ggml_block_size(t) == 256 ? " (export gguf-q4_k_m or gguf-q5_k_m: they fall back as llama.cpp does)" : ""));
      const bool own = run_grid_is(src, hf, t);
      out.produce = [&src, hf, &c, t, own] {
        const QuantizedWeight* q = own ? src.quantized(hf) : nullptr;
        if (own && !q) throw Error(src.run()->dir, "the run has no quantized '" + hf + "' for its own " + ggml_type_name(t) + " blocks");
        if (q && q->blocks.defined()) {
          const torch::Tensor b = gguf_row_order(q->blocks, hf, c, false).contiguous();
          return std::vector<uint8_t>(b.data_ptr<uint8_t>(), b.data_ptr<uint8_t>() + b.numel());
        }
        if (q) return blocks_of(gguf_row_order(q->codes, hf, c, false), gguf_row_order(q->scales, hf, c, false), t);
        return encode_rows(gguf_row_order(src.dense(hf), hf, c, false), t);
      };
    }
    tensors.push_back(std::move(out));
  }
  write_gguf(path, md, tensors, 32, [&](size_t done, size_t total) { progress.step(int64_t(done), int64_t(total), "gguf"); });
}

}  // namespace sq
