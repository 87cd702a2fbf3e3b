#include "core/export/export.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/export/gguf_export.h"
#include "core/export/safetensors_export.h"
#include "core/io/manifest.h"
#include "core/io/sha256.h"
#include "core/io/staged_folder.h"
#include "core/version.h"

namespace sq {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool is_gguf(const std::string& format) { return format.rfind("gguf-", 0) == 0; }

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

ExportCheck check_source(const WeightSource& src, const std::string& format) {
  ExportCheck c;
  c.format = format;
  const auto& run = src.run();
  const std::string scheme = run ? run->scheme.name : "";
  const int a_bits = run ? run->scheme.a_bits : 16;
  const int kv_bits = run ? run->scheme.kv_bits : 16, q_bits = run ? run->scheme.q_bits : 16;
  const std::string act_lost =
      (a_bits < 16 ? " The run's " + std::to_string(a_bits) + "-bit per-token activation quantization is not part of this format." : "") +
      (kv_bits < 16 ? " Its " + std::to_string(kv_bits) + "-bit " + (q_bits < 16 ? "queries and KV cache are runtime settings" : "KV cache is a runtime setting") +
                          ", not part of the file."
                    : std::string());
  if (is_gguf(format)) {
    const GgufFileTypeInfo& ft = gguf_file_type(format);
    const std::string tn = ggml_type_name(ft.base);
    if (ggml_is_float(ft.base)) {
      c.note = !run ? "Weights in " + tn + "." : "The run's dequantized " + scheme + " weights in " + tn + "." + act_lost;
      return c;
    }
    if (ft.rule == GgufRule::RunSchemes && (!run || !run->mix)) {
      c.allowed = false;
      c.note = format + " writes each weight in the ggml type of its own scheme in a mixed-precision run (quantize --mixed); "
               "this is not one. Export a single type (gguf-q4_k ...) or llama.cpp's gguf-q4_k_m.";
      return c;
    }
    if (ggml_block_size(ft.base) == 256 && ft.rule == GgufRule::Single) {
      // A single K type needs every quantized linear's rows to fill super-blocks of 256.
      const ModelConfig& m = src.config();
      for (const auto& [what, width] : {std::pair<const char*, int64_t>{"hidden_size", m.hidden_size},
                                        {"intermediate_size", m.intermediate_size},
                                        {"attention width (heads x head_dim)", m.num_heads * m.head_dim}})
        if (width % 256 != 0) {
          c.allowed = false;
          c.note = tn + " packs rows in super-blocks of 256 values, and this model's " + what + " is " + std::to_string(width) +
                   ". Export gguf-q4_k_m or gguf-q5_k_m instead: they fall back to Q5_0, Q5_1 and Q8_0 there, as llama.cpp does.";
          return c;
        }
    }
    c.exact = gguf_blocks_exact(src, ft);
    const bool mix = ft.rule == GgufRule::LlamaMix;
    if (ft.rule == GgufRule::RunSchemes) {
      c.note = c.exact ? "Each weight in the ggml type of its unit's scheme, the run's own blocks bit for bit."
                       : "Each weight in the ggml type of its unit's scheme; units on grids that are not llama.cpp's (w<bits> "
                         "schemes) are re-quantized to the K-quant of the same bits, so the file is not exactly the evaluated "
                         "model (allocate over gguf-* options for a bit-exact export)." + act_lost;
      return c;
    }
    const std::string rule = mix ? "llama.cpp's " + std::string(ft.suffix) + " rule (attn_v and ffn_down Q6_K in a third of the "
                                      "layers, the output head Q6_K, the rest " + tn + "; narrower rows fall back as llama.cpp does)"
                                    : tn;
    c.note = !run      ? "Tensors quantized to " + rule + " as llama.cpp's reference quantizer does."
             : c.exact ? "The run's own " + tn + " blocks, bit for bit."
                       : "Re-quantizes the run's " + scheme + " weights to " + rule + ": the file is not exactly the evaluated model" +
                             (mix ? " (a mix quantizes tensors the run left at full precision, at other types)."
                                     : " (quantize with gguf-" + std::string(ft.suffix) + " for a bit-exact export).") +
                             act_lost;
  } else if (format == "ct-mixed") {
    if (!run || !run->mix) {
      c.allowed = false;
      c.note = "ct-mixed writes each unit of a mixed-precision run (quantize --mixed) in a config group of its own scheme; "
               "this is not one. Export ct-w4a16 or ct-w8a8.";
      return c;
    }
    c.exact = compressed_tensors_exact(src, format);
    c.note = std::string(c.exact ? "The run's own integer codes and scales" : "Units on symmetric grids with their own codes; the others "
                                                                              "re-quantized to the symmetric grid of their bits (the file is not exactly the evaluated model)") +
             ", one config group per scheme, each unit an anchored pattern over its fused linears." +
             (run->mix->schemes.count("model.embed_tokens.weight") ? " The embedding's unit is written as its dequantized values in fp32 "
                                                                     "(compressed-tensors quantizes linear layers)." : "") +
             " vLLM's WNA16 kernels serve 4- and 8-bit groups.";
  } else if (format == "ct-w8a8" || format == "ct-w4a16") {
    if (a_bits == 4) {
      c.allowed = false;
      c.note = "vLLM has no integer W4A4 kernels, so a W4A4 run cannot be served as compressed-tensors. Nearest "
               "exportable choices: quantize with w4a16 and export ct-w4a16, or export this run as hf-bf16 "
               "(its weights, activations in bf16) or gguf-q4_0.";
      return c;
    }
    c.exact = compressed_tensors_exact(src, format);
    const QuantScheme target = compressed_tensors_scheme(format);
    if (!c.exact && target.group > 0) {
      // Re-quantizing to the format's groups needs every linear layer's input width to hold them.
      const ModelConfig& m = src.config();
      for (const auto& [what, width] : {std::pair<const char*, int64_t>{"hidden_size", m.hidden_size},
                                        {"intermediate_size", m.intermediate_size},
                                        {"attention width (heads x head_dim)", m.num_heads * m.head_dim}})
        if (width % target.group != 0) {
          c.allowed = false;
          c.note = format + " groups weights by " + std::to_string(target.group) + " input columns, and this model's " + what +
                   " is " + std::to_string(width) + ". Quantize with a group that divides it (for example w4a16-g32-sym) "
                   "and export that run: its own groups are written exactly.";
          return c;
        }
    }
    const std::string acts = a_bits == target.a_bits ? ""
                             : target.a_bits == 8   ? " vLLM will quantize activations to 8 bits per token, which the run did not."
                                                    : act_lost;
    c.note = c.exact ? "The run's own integer codes and scales." + acts
             : run   ? "Re-quantizes the run's " + scheme + " weights to " + target.name + " (an exact export needs a run on "
                         "that grid: symmetric " + std::to_string(target.w_bits) + "-bit weights)." + acts
                     : "Linear layers quantized to " + target.name + " (round to nearest).";
  } else {
    c.note = run ? "The run's dequantized weights rounded to bf16." + act_lost : "The weights in bf16.";
  }
  return c;
}

void check_format(const std::string& format) {
  const auto& all = export_formats();
  if (std::find(all.begin(), all.end(), format) == all.end()) {
    std::string list;
    for (const auto& f : all) list += (list.empty() ? "" : ", ") + f;
    throw Error("unknown export format '" + format + "' (" + list + ")");
  }
}

// Every regular file under `dir`, relative, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

const std::vector<std::string>& export_formats() {
  static const std::vector<std::string> f = [] {
    std::vector<std::string> all;
    for (const GgufFileTypeInfo& t : gguf_file_types()) all.push_back(t.format);
    for (const char* other : {"ct-w8a8", "ct-w4a16", "ct-mixed", "hf-bf16"}) all.push_back(other);
    return all;
  }();
  return f;
}

ExportCheck check_export(const std::string& model_dir, const std::string& quant_run, const std::string& format) {
  check_format(format);
  const WeightSource src(model_dir, quant_run);
  return check_source(src, format);
}

std::vector<ExportCheck> check_exports(const std::string& model_dir, const std::string& quant_run) {
  const WeightSource src(model_dir, quant_run);
  std::vector<ExportCheck> out;
  for (const auto& f : export_formats()) out.push_back(check_source(src, f));
  return out;
}

ExportResult export_model(const ExportOptions& o) {
  check_format(o.format);
  if (o.out.empty()) throw Error("no output folder given");
  WeightSource src(o.model_dir, o.quant_run);
  ExportResult result;
  result.check = check_source(src, o.format);
  if (!result.check.allowed) throw Error(o.format + " refused: " + result.check.note);

  // Before the work, so an output that may not be written fails at once.
  StagedFolder folder(o.out, OutputKind::Export, o.replace, {o.model_dir, o.quant_run});
  const fs::path out = folder.target(), staging = folder.path();

  try {
    const std::string model_name = fs::path(o.model_dir).lexically_normal().filename().string();
    std::string main_name;
    if (is_gguf(o.format)) {
      const GgufFileTypeInfo& ft = gguf_file_type(o.format);
      main_name = (model_name.empty() ? "model" : model_name) + "-" + ft.suffix + ".gguf";
      write_gguf_model(src, ft, model_name, (staging / main_name).string(), o.progress);
    } else if (o.format == "hf-bf16") {
      write_bf16_model(src, staging.string(), o.progress);
    } else {
      write_compressed_tensors_model(src, o.format, staging.string(), o.progress);
    }

    Manifest manifest;
    for (const std::string& f : files_under(staging)) {
      o.progress.step(int64_t(manifest.files.size()), -1, "checksums");
      ManifestFile e{f, uint64_t(fs::file_size(staging / f)), sha256_file((staging / f).string())};
      manifest.files.push_back(e);
      result.files.push_back(e);
    }
    if (src.run())
      manifest.run_json = json{{"dir", fs::absolute(src.run()->dir).string()},
                               {"method", src.run()->method},
                               {"scheme", json::parse(to_json(src.run()->scheme))}}
                              .dump();
    manifest.format = o.format;
    manifest.created = utc_now();
    manifest.safequant_version = SAFEQUANT_VERSION;
    manifest.model = fs::absolute(o.model_dir).string();
    manifest.exact = result.check.exact;
    manifest.note = result.check.note;
    write_manifest(staging.string(), manifest);

    folder.commit();
    result.out = out.string();
    result.main_file = main_name.empty() ? out.string() : (out / main_name).string();
    result.manifest = (out / "manifest.json").string();
    return result;
  } catch (const fs::filesystem_error& e) {
    throw Error(out.string(), std::string("export failed: ") + e.code().message());
  }
}

}  // namespace sq
