#include "core/mixed/sensitivity_table.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace sq {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct GroupName {
  UnitGroup group;
  const char* name;
};
const GroupName kGroups[] = {{UnitGroup::Qkv, "qkv"},        {UnitGroup::O, "o"},          {UnitGroup::GateUp, "gate_up"},
                             {UnitGroup::Down, "down"},      {UnitGroup::Embedding, "embed"}, {UnitGroup::Head, "head"}};

}  // namespace

const char* unit_group_name(UnitGroup g) {
  for (const GroupName& n : kGroups)
    if (n.group == g) return n.name;
  return "?";
}

UnitGroup parse_unit_group(const std::string& name) {
  for (const GroupName& n : kGroups)
    if (name == n.name) return n.group;
  throw Error("unknown unit group '" + name + "' (qkv, o, gate_up, down, embed, head)");
}

std::string SensitivityUnit::name() const {
  return layer < 0 ? unit_group_name(group) : "layer " + std::to_string(layer) + " " + unit_group_name(group);
}

void write_sensitivity(const std::string& dir, const SensitivityTable& t) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir, "cannot create the folder: " + ec.message());
  json units = json::array();
  for (size_t u = 0; u < t.units.size(); ++u) {
    const SensitivityUnit& x = t.units[u];
    json cells = json::array();
    for (const SensitivityCell& c : t.cells[u])
      cells.push_back({{"safety_kl", c.safety_kl}, {"refusal_logprob_change", c.refusal_change}, {"utility_kl", c.utility_kl}, {"bytes", c.bytes}});
    units.push_back({{"layer", x.layer}, {"group", unit_group_name(x.group)}, {"params", x.params}, {"weights", x.weights}, {"options", cells}});
  }
  const json j = {{"format", "safequant-sensitivity-1"},
                  {"model", t.model},
                  {"options", t.options},
                  {"units", units},
                  {"full_precision_bytes_per_weight", t.full_precision_bytes_per_unit_weight},
                  {"prompts", {{"malicious", t.malicious}, {"benign", t.benign}, {"refused", t.refused}, {"from", t.prompts_from}}},
                  {"response_tokens", t.response_tokens},
                  {"seconds", t.seconds},
                  {"cpu", t.cpu}};
  write_text_atomically((fs::path(dir) / "sensitivity.json").string(), j.dump(1) + "\n");
  std::ostringstream csv;
  csv << "layer,group,option,safety_kl,refusal_logprob_change,utility_kl,bytes\n";
  for (size_t u = 0; u < t.units.size(); ++u)
    for (size_t o = 0; o < t.options.size(); ++o) {
      const SensitivityCell& c = t.cells[u][o];
      csv << t.units[u].layer << ',' << unit_group_name(t.units[u].group) << ',' << t.options[o] << ',' << c.safety_kl << ','
          << c.refusal_change << ',' << c.utility_kl << ',' << c.bytes << '\n';
    }
  write_text_atomically((fs::path(dir) / "sensitivity.csv").string(), csv.str());
}

SensitivityTable read_sensitivity(const std::string& dir) {
  const std::string path = (fs::path(dir) / "sensitivity.json").string();
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot be read (is this a `safequant sensitivity` folder?)");
  SensitivityTable t;
  try {
    const json j = json::parse(in);
    if (j.value("format", "") != "safequant-sensitivity-1") throw Error(path, "is not a sensitivity table (format safequant-sensitivity-1)");
    t.model = j.at("model").get<std::string>();
    t.options = j.at("options").get<std::vector<std::string>>();
    t.full_precision_bytes_per_unit_weight = j.at("full_precision_bytes_per_weight").get<double>();
    const json& p = j.at("prompts");
    t.malicious = p.at("malicious"), t.benign = p.at("benign"), t.refused = p.at("refused");
    t.prompts_from = p.at("from").get<std::string>();
    t.response_tokens = j.at("response_tokens");
    t.seconds = j.at("seconds");
    t.cpu = j.at("cpu").get<std::string>();
    for (const json& u : j.at("units")) {
      SensitivityUnit x;
      x.layer = u.at("layer");
      x.group = parse_unit_group(u.at("group").get<std::string>());
      x.params = u.at("params").get<std::vector<std::string>>();
      x.weights = u.at("weights");
      std::vector<SensitivityCell> cells;
      for (const json& c : u.at("options"))
        cells.push_back({c.at("safety_kl"), c.at("refusal_logprob_change"), c.at("utility_kl"), c.at("bytes")});
      if (cells.size() != t.options.size())
        throw Error(path, "unit '" + x.name() + "' has " + std::to_string(cells.size()) + " options where the table names " +
                              std::to_string(t.options.size()));
      t.units.push_back(std::move(x));
      t.cells.push_back(std::move(cells));
    }
  } catch (const json::exception& e) {
    throw Error(path, std::string("is not a valid sensitivity table: ") + e.what());
  }
  return t;
}

}  // namespace sq
