#pragma once
// A mixed-precision plan: the weights of each unit (a decoder layer's q/k/v, o, gate/up or down
// linears, the embedding, the output head) on a weight scheme of their own, as an allocation
// chose them (mixed/allocation.h). The quantizer rounds each weight on its unit's scheme, run.json
// keeps the plan (this file writes and reads its section), and the loaders and exporters ask it
// for a weight's scheme. Plain C++.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/quantized/scheme.h"

namespace sq {

struct MixUnit {
  std::string unit;                 // "layer 3 qkv", "embed", "head"
  std::string scheme;               // its option
  std::vector<std::string> params;  // checkpoint names of its weights
};

struct SchemeMix {
  std::string chosen_by;  // what chose it: the allocation's objective, budget and sensitivity table
  double bytes = 0, bits_per_weight = 0;  // the units' weights as deployed
  std::vector<MixUnit> units;
  std::map<std::string, QuantScheme> schemes;  // by checkpoint weight name, from `units`
};

// A plan from its units; throws sq::Error for an unknown scheme, one that quantizes activations
// (a mix varies weights only: every unit shares the run's activation path), or a weight named by
// two units.
SchemeMix make_scheme_mix(std::string chosen_by, double bytes, double bits_per_weight, std::vector<MixUnit> units);

// The scheme of the run a mix belongs to, which names no weight of its own: name "mixed", no
// targets, activations, queries and KV cache in full precision.
QuantScheme mixed_run_scheme();

// The scheme a weight is rounded on: its unit's in a mix, else `base` where `base` targets it;
// nullptr when the weight is not quantized.
const QuantScheme* weight_scheme(const std::string& param, const QuantScheme& base, const std::optional<SchemeMix>& mix);

std::string mix_to_json(const SchemeMix& m);
// Throws sq::Error (without a file name: the caller adds it) for a malformed section.
SchemeMix mix_from_json(const std::string& json_text);

}  // namespace sq
