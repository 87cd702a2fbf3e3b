#pragma once
// The config of `safequant run`: one JSON file naming the model, the prompts, the method and its
// settings, what to evaluate and what to export. This file reads, checks and resolves it (paths
// absolute, every default filled from core's tables) and writes the resolved form, whose hash
// says whether a finished run already holds its result. Torch-free. The shape is documented in
// the README ("One run from a config") with an example in examples/run.json.
#include <nlohmann/json_fwd.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/quant/quantizer.h"

namespace sq {

// A config that cannot be run as written: an unknown key, a wrong type, a value out of range, a
// missing file. The message names the config file and the key. (The CLI exits 2 for it.)
class ConfigError : public Error {
 public:
  using Error::Error;
};

struct RunConfig {
  std::string file;  // the config it was read from
  std::string model, aligned, base;  // folders, absolute
  std::vector<std::string> calibration, evaluation;  // prompt files, absolute
  QuantizeOptions quantize;  // method, scheme, ratio, samples, seed and the method's options
  int max_new_tokens = 32;
  bool truncate = false;
  std::string judge, judge_format;  // a safety judge's folder (absolute; "" for none) and its format
  std::vector<std::string> exports;  // export formats (export_formats())
  std::string out;  // the run folder, absolute ("" when the command line names it)
};

// Reads and checks CONFIG (relative paths are relative to its folder): ConfigError for anything
// wrong with it, before any work is done.
RunConfig read_run_config(const std::string& path);
// The same for a config already parsed: `path` names it in messages, `base_dir` is where its
// relative paths start.
RunConfig parse_run_config(const nlohmann::json& config, const std::string& path, const std::string& base_dir);

// The resolved config as JSON (sorted keys, absolute paths, every default): itself a config
// that runs the same. Its hash covers that (without "out") and the identity of every input:
// each prompt file's SHA-256 and each model folder's files' sizes and modification times.
std::string resolved_config_json(const RunConfig& config);

// A path a config file names, as run configs and sweeps read them: "~/" is the home folder, a
// relative path is relative to the config's folder.
std::filesystem::path config_path(const std::string& value, const std::string& config_dir);
std::string run_config_hash(const RunConfig& config);

}  // namespace sq
