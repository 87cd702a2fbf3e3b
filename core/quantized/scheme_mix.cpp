#include "core/quantized/scheme_mix.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sq {

SchemeMix make_scheme_mix(std::string chosen_by, double bytes, double bits_per_weight, std::vector<MixUnit> units) {
  SchemeMix m{std::move(chosen_by), bytes, bits_per_weight, std::move(units), {}};
  if (m.units.empty()) throw Error("a mixed-precision plan needs at least one unit");
  std::map<std::string, QuantScheme> parsed;
  for (const MixUnit& u : m.units) {
    auto it = parsed.find(u.scheme);
    if (it == parsed.end()) it = parsed.emplace(u.scheme, parse_scheme(u.scheme)).first;
    const QuantScheme& s = it->second;
    if (!s.weight_only())
      throw Error("unit " + u.unit + ": '" + u.scheme + "' quantizes activations; a mix varies the weights only");
    for (const std::string& p : u.params)
      if (!m.schemes.emplace(p, s).second) throw Error("'" + p + "' is in two units of the mix (the second is " + u.unit + ")");
  }
  return m;
}

QuantScheme mixed_run_scheme() {
  QuantScheme s;
  s.name = "mixed";
  s.w_bits = 16;
  s.targets.clear();
  return s;
}

const QuantScheme* weight_scheme(const std::string& param, const QuantScheme& base, const std::optional<SchemeMix>& mix) {
  if (mix) {
    const auto it = mix->schemes.find(param);
    if (it != mix->schemes.end()) return &it->second;
  }
  return base.quantizes(param) ? &base : nullptr;
}

std::string mix_to_json(const SchemeMix& m) {
  nlohmann::json units = nlohmann::json::array();
  for (const MixUnit& u : m.units) units.push_back({{"unit", u.unit}, {"scheme", u.scheme}, {"params", u.params}});
  return nlohmann::json{{"chosen_by", m.chosen_by}, {"bytes", m.bytes}, {"bits_per_weight", m.bits_per_weight}, {"units", units}}.dump();
}

SchemeMix mix_from_json(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    std::vector<MixUnit> units;
    for (const auto& u : j.at("units"))
      units.push_back({u.at("unit").get<std::string>(), u.at("scheme").get<std::string>(), u.at("params").get<std::vector<std::string>>()});
    return make_scheme_mix(j.at("chosen_by").get<std::string>(), j.at("bytes").get<double>(), j.at("bits_per_weight").get<double>(),
                           std::move(units));
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("the mixed-precision plan is malformed: ") + e.what());
  }
}

}  // namespace sq
