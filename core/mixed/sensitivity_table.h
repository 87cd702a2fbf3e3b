#pragma once
// A sensitivity table (`safequant sensitivity`): for each unit of a model (a decoder layer's
// q/k/v, o, gate/up or down linears, the embedding, the untied output head) and each weight
// option, what quantizing that unit alone does against full precision. Written and read here:
// sensitivity.json, and sensitivity.csv beside it for spreadsheets. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

// The groups a unit is made of: vLLM fuses q/k/v and gate/up, so each takes one scheme.
enum class UnitGroup { Qkv, O, GateUp, Down, Embedding, Head };
const char* unit_group_name(UnitGroup g);  // "qkv", "o", "gate_up", "down", "embed", "head"
UnitGroup parse_unit_group(const std::string& name);  // throws sq::Error

struct SensitivityUnit {
  int64_t layer = -1;  // -1: the embedding or the head
  UnitGroup group = UnitGroup::Qkv;
  std::vector<std::string> params;  // checkpoint names of its weights
  int64_t weights = 0;              // their values
  std::string name() const;         // "layer 3 qkv", "embed", "head"
};

// One unit at one option, against full precision on the calibration prompts.
struct SensitivityCell {
  double safety_kl = 0;       // mean KL(full precision || quantized) over the first response tokens of malicious prompts
  double refusal_change = 0;  // mean change of the log-probability of the full-precision refusal, over the malicious prompts it refuses (negative: less likely)
  double utility_kl = 0;      // the same KL on benign prompts
  double bytes = 0;           // the unit's weights as deployed at this option (model_size.h)
};

struct SensitivityTable {
  std::string model;
  std::vector<std::string> options;  // scheme names
  std::vector<SensitivityUnit> units;
  std::vector<std::vector<SensitivityCell>> cells;  // [unit][option]
  double full_precision_bytes_per_unit_weight = 2;  // bf16, for budgets against full precision
  int malicious = 0, benign = 0, refused = 0;       // prompts measured, and malicious ones the model refuses
  int response_tokens = 0;                          // first response tokens compared
  std::string prompts_from;                         // the files, with the draw
  double seconds = 0;
  std::string cpu;
};

// Writes sensitivity.json and sensitivity.csv into `dir` (created), each atomically.
void write_sensitivity(const std::string& dir, const SensitivityTable& t);
// Reads sensitivity.json from `dir`; throws sq::Error naming the file and the problem.
SensitivityTable read_sensitivity(const std::string& dir);

}  // namespace sq
