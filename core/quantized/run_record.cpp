#include "core/quantized/run_record.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

using nlohmann::json;

json or_null(const std::string& s) { return s.empty() ? json() : json(s); }

}  // namespace

void write_run_record(const std::string& dir, const RunRecord& r) {
  json curve = json::array();
  for (const auto& [series, value] : r.training_loss) curve.push_back({{"series", series}, {"value", value}});
  const json j = {
      {"safequant", r.safequant},
      {"quantizer_revision", r.quantizer_revision},
      {"model", r.model},
      {"model_type", r.model_type},
      {"layers", r.layers},
      {"method", info(r.method).name},
      {"scheme", json::parse(to_json(r.scheme))},
      {"mix", r.mix ? json::parse(mix_to_json(*r.mix)) : json()},
      {"untied", r.untied},
      {"rotation", r.rotation ? json{{"kind", r.rotation->kind}, {"seed", r.rotation->seed}} : json()},
      {"calibration",
       {{"samples", r.calibration.samples},
        {"ratio", r.calibration.ratio},
        {"seq_len", r.calibration.seq_len},
        {"seed", r.calibration.seed},
        {"composition", json::parse(strata_json(r.calibration.composition, "drawn"))},
        {"ids", r.calibration.ids},
        {"chat_template", r.calibration.chat_template},
        {"chat_system", r.calibration.chat_system},
        {"chat_date", r.calibration.chat_date},
        {"tokens", r.calibration.tokens}}},
      {"gptq", {{"damp", r.gptq.damp}, {"act_order", r.gptq.act_order}, {"block", r.gptq.block},
                {"hessian_dtype", r.gptq.hessian_f64 ? "float64" : "float32"}}},
      {"lwc", r.lwc ? json{{"epochs", r.lwc->epochs},
                           {"epoch_schedule", r.lwc->epoch_schedule},
                           {"epochs_per_layer", r.lwc->epochs_per_layer},
                           {"learning_rate", r.lwc->learning_rate},
                           {"smoothing", r.lwc->smoothing},
                           {"smoothed", r.lwc->smoothed},
                           {"objective", r.lwc->objective},
                           {"reconstruction_target", r.lwc->reconstruction_target},
                           {"probes_from", or_null(r.lwc->probes_from)}}
                    : json()},
      {"aaq", r.aaq ? json{{"base", r.aaq->base},
                           {"teacher", r.aaq->teacher},
                           {"lambda", r.aaq->lambda},
                           {"top_k", r.aaq->top_k},
                           {"epochs", r.aaq->epochs},
                           {"learning_rate", r.aaq->learning_rate}}
                    : json()},
      {"notes", r.notes},
      {"training_loss", curve},
      {"seconds", r.seconds},
      {"threads", r.threads}};
  write_atomically((std::filesystem::path(dir) / kRunRecordFile).string(), [&](std::ostream& s) { s << j.dump(2) << "\n"; });
}

RunRecord read_run_record(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kRunRecordFile).string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(dir, "not a quantization run folder (no run.json)");
  const json j = read_json_file(path);
  if (!j.is_object()) throw Error(path, "not a run.json: the top level is not an object");
  RunRecord r;
  r.safequant = json_field_or<std::string>(j, "safequant", path, "");
  r.quantizer_revision = json_field_or<int>(j, "quantizer_revision", path, 0);
  r.model = json_field<std::string>(j, "model", path);
  r.model_type = json_field_or<std::string>(j, "model_type", path, "");
  r.layers = json_field<int64_t>(j, "layers", path);
  if (r.layers < 1) throw Error(path, "\"layers\" must be positive");
  try {
    r.method = parse_quant_method(json_field<std::string>(j, "method", path));
    r.scheme = scheme_from_json(json_field<json>(j, "scheme", path).dump());
    if (const json m = json_field_or<json>(j, "mix", path, json()); !m.is_null()) r.mix = mix_from_json(m.dump());
  } catch (const Error& e) {
    throw Error(path, e.what());
  }
  r.untied = json_field_or<bool>(j, "untied", path, false);
  if (const json rot = json_field_or<json>(j, "rotation", path, json()); rot.is_object())
    r.rotation = RunRecord::Rotation{json_field<std::string>(rot, "kind", path), json_field<uint64_t>(rot, "seed", path)};
  const json cal = json_field_or<json>(j, "calibration", path, json::object());
  r.calibration.samples = json_field_or<int>(cal, "samples", path, 0);
  r.calibration.ratio = json_field_or<double>(cal, "ratio", path, 0.0);
  r.calibration.seq_len = json_field_or<int>(cal, "seq_len", path, 0);
  r.calibration.seed = json_field_or<uint64_t>(cal, "seed", path, 0);
  r.calibration.ids = json_field_or<std::vector<std::string>>(cal, "ids", path, {});
  r.calibration.chat_template = json_field_or<std::string>(cal, "chat_template", path, "");
  r.calibration.chat_system = json_field_or<std::string>(cal, "chat_system", path, "");
  r.calibration.chat_date = json_field_or<std::string>(cal, "chat_date", path, "");
  r.calibration.tokens = json_field_or<int64_t>(cal, "tokens", path, 0);
  for (const json& s : json_field_or<json>(cal, "composition", path, json::array()))
    r.calibration.composition.push_back({json_field<std::string>(s, "label", path) == "malicious" ? 1 : 0, json_field<std::string>(s, "source", path),
                                         json_field<size_t>(s, "prompts", path), json_field<size_t>(s, "drawn", path)});
  const json g = json_field_or<json>(j, "gptq", path, json::object());
  const std::string hessian = json_field_or<std::string>(g, "hessian_dtype", path, "float64");
  if (hessian != "float32" && hessian != "float64") throw Error(path, "\"gptq\".\"hessian_dtype\" is " + quote_value(hessian) + ", not float32 or float64");
  r.gptq = {json_field_or<double>(g, "damp", path, 0.01), json_field_or<bool>(g, "act_order", path, false), json_field_or<int>(g, "block", path, 128),
            hessian == "float64"};
  if (const json l = json_field_or<json>(j, "lwc", path, json()); l.is_object())
    r.lwc = RunRecord::Lwc{json_field<int>(l, "epochs", path),
                           json_field_or<std::string>(l, "epoch_schedule", path, ""),
                           json_field_or<std::vector<int>>(l, "epochs_per_layer", path, {}),
                           json_field<double>(l, "learning_rate", path),
                           json_field_or<bool>(l, "smoothing", path, false),
                           json_field_or<std::string>(l, "smoothed", path, ""),
                           json_field_or<std::string>(l, "objective", path, ""),
                           json_field_or<std::string>(l, "reconstruction_target", path, ""),
                           json_field_or<std::string>(l, "probes_from", path, "")};
  if (const json a = json_field_or<json>(j, "aaq", path, json()); a.is_object())
    r.aaq = RunRecord::Aaq{json_field<std::string>(a, "base", path), json_field_or<std::string>(a, "teacher", path, ""),
                           json_field<double>(a, "lambda", path),   json_field<double>(a, "learning_rate", path),
                           json_field<int>(a, "top_k", path),       json_field<int>(a, "epochs", path)};
  r.notes = json_field_or<std::vector<std::string>>(j, "notes", path, {});
  for (const json& p : json_field_or<json>(j, "training_loss", path, json::array()))
    r.training_loss.emplace_back(json_field<std::string>(p, "series", path), json_field<double>(p, "value", path));
  r.seconds = json_field_or<double>(j, "seconds", path, 0.0);
  r.threads = json_field_or<int>(j, "threads", path, 0);
  return r;
}

}  // namespace sq
