#include "core/export/gguf_export.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/ggml_blocks.h"
#include "core/model/gguf_layout.h"
#include "core/model/gguf_vocab.h"
#include "core/model/llama.h"

namespace sq {
namespace {

using kernels::GridKind;

GridKind grid_of(GgmlType t) { return t == GgmlType::Q8_0 ? GridKind::GgufQ8_0 : GridKind::GgufQ4_0; }
bool is_block_type(GgmlType t) { return t == GgmlType::Q8_0 || t == GgmlType::Q4_0; }

// llama.cpp's general.file_type (enum llama_ftype) of a file whose linears are `type`.
uint32_t file_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q8_0: return 7;
    case GgmlType::BF16: return 32;
  }
  return 0;
}

GgmlType float_type(DType d) { return d == DType::F16 ? GgmlType::F16 : d == DType::BF16 ? GgmlType::BF16 : GgmlType::F32; }

std::vector<uint8_t> floats_of(const torch::Tensor& t, GgmlType type) {
  const torch::Tensor c = t.to(torch::kFloat32).contiguous();
  return encode_floats(type, c.data_ptr<float>(), c.numel());
}

std::vector<uint8_t> blocks_of(const torch::Tensor& codes, const torch::Tensor& scales, GgmlType type) {
  const torch::Tensor c = codes.to(torch::kInt32).contiguous(), s = scales.to(torch::kFloat32).contiguous();
  return encode_quant_blocks(type, c.data_ptr<int32_t>(), s.data_ptr<float>(), c.numel());
}

GgufMetadata model_metadata(const ModelConfig& c, GgmlType type, const std::string& name) {
  const std::string a = gguf_architecture(c);
  GgufMetadata md = {{"general.architecture", GgufValue::string(a)},
                     {"general.name", GgufValue::string(name)},
                     {"general.file_type", GgufValue::u32(file_type(type))},
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
  if (is_block_type(type)) md.push_back({"general.quantization_version", GgufValue::u32(2)});
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

}  // namespace

bool gguf_blocks_exact(const WeightSource& src, GgmlType type) {
  return is_block_type(type) && src.run() && src.run()->scheme.w_kind == grid_of(type) && src.run()->scheme.a_bits == 16;
}

void write_gguf_model(WeightSource& src, GgmlType type, const std::string& name, const std::string& path,
                      const Progress& progress) {
  const ModelConfig& c = src.config();
  GgufMetadata md = model_metadata(c, type, name);
  for (auto& kv : gguf_vocab_metadata(src.model_dir(), c)) md.push_back(std::move(kv));

  const QuantScheme targets = src.run() ? src.run()->scheme : QuantScheme{};
  const bool run_blocks = src.run() && is_block_type(type) && src.run()->scheme.w_kind == grid_of(type);
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
    std::vector<int64_t> ne(spec.shape.rbegin(), spec.shape.rend());
    GgufTensorOut t{gguf_tensor_name(hf), GgmlType::F32, ne, nullptr};
    if (spec.shape.size() == 1) {
      t.produce = [&src, hf, &c] { return floats_of(gguf_row_order(src.dense(hf), hf, c, false), GgmlType::F32); };
    } else if (!targets.quantizes(hf)) {
      t.type = is_block_type(type) ? float_type(src.stored_dtype(hf)) : type;
      t.produce = [&src, hf, type = t.type] { return floats_of(src.dense(hf), type); };
    } else if (!is_block_type(type)) {
      t.type = type;
      t.produce = [&src, hf, &c, type] { return floats_of(gguf_row_order(src.dense(hf), hf, c, false), type); };
    } else {
      if (spec.shape[1] % 32 != 0)
        throw Error(src.model_dir(), std::string(ggml_type_name(type)) + " needs rows of a multiple of 32 values; '" + hf +
                                         "' has " + std::to_string(spec.shape[1]) + " columns");
      t.type = type;
      t.produce = [&src, hf, &c, type, run_blocks] {
        const QuantizedWeight* q = run_blocks ? src.quantized(hf) : nullptr;
        if (q) return blocks_of(gguf_row_order(q->codes, hf, c, false), gguf_row_order(q->scales, hf, c, false), type);
        QuantScheme grid = parse_scheme(type == GgmlType::Q8_0 ? "gguf-q8_0" : "gguf-q4_0");
        const QuantizedWeight r = quantize_weight(gguf_row_order(src.dense(hf), hf, c, false), grid);
        return blocks_of(r.codes, r.scales, type);
      };
    }
    tensors.push_back(std::move(t));
  }
  write_gguf(path, md, tensors, 32, [&](size_t done, size_t total) { progress.step(int64_t(done), int64_t(total), "gguf"); });
}

}  // namespace sq
