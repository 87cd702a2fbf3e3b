#pragma once
// run.json, the record of one quantization run: what was quantized, how, on which calibration
// draw, what training did and how long it took. This file writes and reads it; the quantizer, the
// loaders, the efficacy table and the studio use the type only. Torch-free, so that front ends
// read runs without the engine's headers.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/quantized/quant_method.h"
#include "core/quantized/scheme.h"
#include "core/quantized/scheme_mix.h"

namespace sq {

struct RunRecord {
  std::string safequant;       // the version that wrote it
  int quantizer_revision = 0;  // see kQuantizerRevision; 0 in runs older than it
  std::string model, model_type;  // the model folder (absolute) and its architecture
  int64_t layers = 0;
  QuantMethod method = QuantMethod::Rtn;
  QuantScheme scheme;  // mixed_run_scheme() in a mixed-precision run
  std::optional<SchemeMix> mix;  // a scheme per unit (a mixed-precision run)
  // The scheme a weight of the model was rounded on; nullptr when the run did not quantize it.
  const QuantScheme* scheme_for(const std::string& param) const { return weight_scheme(param, scheme, mix); }
  bool untied = false;  // the run unties the output head from the embeddings (rotation)
  struct Rotation {
    std::string kind;  // "randomized hadamard" | "random orthogonal"
    uint64_t seed = 0;
  };
  std::optional<Rotation> rotation;
  struct Calibration {
    int samples = 0, seq_len = 0;
    double ratio = 0;
    uint64_t seed = 0;
    std::vector<Stratum> composition;
    std::vector<std::string> ids;
    std::string chat_template, chat_system, chat_date;  // how the prompts were rendered
    int64_t tokens = 0;  // real tokens the samples held after truncation to seq_len (0: not recorded)
  } calibration;
  struct Gptq {
    double damp = 0.01;
    bool act_order = false;
    int block = 128;
    bool hessian_f64 = false;  // Hessians and updates in fp64 (runs made before fp32 became the default were)
  } gptq;
  struct Lwc {  // lwc and q-realign
    int epochs = 0;
    std::string epoch_schedule;
    std::vector<int> epochs_per_layer;
    double learning_rate = 0;
    bool smoothing = false;
    std::string smoothed, objective, reconstruction_target, probes_from;
  };
  std::optional<Lwc> lwc;
  struct Aaq {
    std::string base, teacher;
    double lambda = 0, learning_rate = 0;
    int top_k = 0, epochs = 0;
  };
  std::optional<Aaq> aaq;
  std::vector<std::string> notes;
  std::vector<std::pair<std::string, double>> training_loss;  // (series, value) in order
  double seconds = 0;
  int threads = 0;  // the CPU threads it computed with, on which its results depend (0: not recorded)
};

inline constexpr const char* kRunRecordFile = "run.json";

// Writes DIR/run.json atomically.
void write_run_record(const std::string& dir, const RunRecord& record);
// Reads DIR/run.json; sq::Error names the file and the missing or ill-typed key ("not a
// quantization run folder" when there is none).
RunRecord read_run_record(const std::string& dir);

}  // namespace sq
