#pragma once
// `safequant sensitivity`: each unit of a model quantized alone at each weight option (RTN on the
// option's grid), against full precision on calibration prompts: the KL of the first response
// tokens on malicious and on benign prompts, and how much likelier or less likely the model's own
// refusals become. The decoder runs once in full precision with every layer's input kept; a
// unit of layer i then recomputes layers i to the last only, one variant at a time. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/mixed/sensitivity_table.h"
#include "core/model/chat_template.h"
#include "core/run/device.h"
#include "core/run/progress.h"

namespace sq {

struct SensitivityOptions {
  std::vector<std::string> options = {"w8a16-g32-sym", "w6a16-g32-sym", "w4a16-g32-sym", "w3a16-g32-sym", "w2a16-g32-sym"};
  std::vector<Prompt> prompts;  // labelled prompt files; the calibration draw takes `samples` at `ratio` malicious
  int samples = 64;
  double ratio = 0.5;
  uint64_t seed = 0;
  ChatSettings chat;
  int response_tokens = 16;  // first tokens of the full-precision reply compared
  int seq_len = 256;         // prompt tokens kept (the last ones)
  int batch_size = 8;
  bool embeddings = true;    // the embedding (and an untied head) as units too
  ComputeDevice device;
  Progress progress;
};

// Throws sq::Error for an unknown option, a scheme with quantized activations, an empty draw or a
// model it cannot read; sq::Cancelled when cancelled.
SensitivityTable measure_sensitivity(const std::string& model_dir, const SensitivityOptions& options);

// Whole allocations measured the same way, every unit at its chosen option at once (an option
// index per unit of the table the same options give): whether the units' effects add up. Each
// cell's bytes are the allocation's. Throws sq::Error as measure_sensitivity does, and for a
// choice that does not fit the model's units or the options.
std::vector<SensitivityCell> measure_allocations(const std::string& model_dir, const SensitivityOptions& options,
                                                 const std::vector<std::vector<size_t>>& choices);

}  // namespace sq
