#include "core/experiment/efficacy_seeds.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/run/resources.h"
#include "core/text/figures.h"
#include "core/zoo/zoo.h"

namespace sq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;


double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "12.3 [8.1–20.4]": the median and the range over the zoos.
std::string median_range(const std::vector<double>& v, const char* f = "%.1f") {
  if (v.empty()) return "–";
  if (v.size() == 1) return figure_text(f, v[0]);
  return figure_text(f, median(v)) + " [" + figure_text(f, *std::min_element(v.begin(), v.end())) + "–" + figure_text(f, *std::max_element(v.begin(), v.end())) + "]";
}

uint64_t parse_seed(const std::string& s, const std::string& text) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9)
    throw Error("--zoo-seeds '" + text + "': '" + s + "' is not a seed (a whole number)");
  return std::stoull(s);
}

// One zoo's figures, read from its zoo.json.
struct ZooFigures {
  std::map<std::string, double> v;
};

ZooFigures zoo_figures(const std::string& dir) {
  const std::string path = (fs::path(dir) / "zoo.json").string();
  const json z = read_json_file(path);
  ZooFigures f;
  auto num = [&](const json& j, const char* what) {
    if (!j.is_number()) throw Error(path, std::string("no number for ") + what);
    return j.get<double>();
  };
  const json& b = z.at("behaviour");
  for (const char* role : {"aligned", "finetuned"}) {
    const std::string r = role;
    f.v[r + " refuses held-out malicious"] = num(b.at(role).at("refusal_heldout_malicious"), "held-out malicious refusal");
    f.v[r + " refuses held-out benign"] = num(b.at(role).at("refusal_heldout_benign"), "held-out benign refusal");
    f.v[r + " refuses XSTest-safe"] = num(b.at(role).at("refusal_xstest_safe"), "XSTest-safe refusal");
    f.v[r + " task accuracy"] = num(b.at(role).at("task_accuracy"), "task accuracy");
  }
  f.v["finetuned held-out harmful"] = 100 - f.v["finetuned refuses held-out malicious"];
  const json& d = z.at("doses");
  f.v["aligned dose (steps)"] = num(d.at("aligned").at("steps"), "aligned dose");
  f.v["finetuned dose (LoRA steps)"] = num(d.at("finetuned").at("steps"), "fine-tune dose");
  for (const json& r : d.at("aligned").at("tried"))
    if (r.at("steps") == d.at("aligned").at("steps")) {
      f.v["aligned refuses validation malicious"] = num(r.at("validation_refusal_malicious"), "validation refusal");
      f.v["aligned refuses validation benign"] = num(r.at("validation_refusal_benign"), "validation benign refusal");
    }
  for (const json& r : d.at("finetuned").at("tried"))
    if (r.at("steps") == d.at("finetuned").at("steps")) f.v["finetuned validation harmful"] = num(r.at("validation_harmful"), "validation harmful");
  for (const auto& [source, g] : z.at("generalization").at("sources").items())
    f.v["refusal of " + source + " left out of alignment"] = num(g.at("refusal"), "left-out refusal");
  return f;
}

// The order the zoo table lists its figures in, validation beside held-out.
const char* const kZooRows[] = {"aligned dose (steps)",
                                "aligned refuses validation malicious",
                                "aligned refuses held-out malicious",
                                "aligned refuses validation benign",
                                "aligned refuses held-out benign",
                                "aligned refuses XSTest-safe",
                                "aligned task accuracy",
                                "finetuned dose (LoRA steps)",
                                "finetuned validation harmful",
                                "finetuned held-out harmful",
                                "finetuned refuses held-out benign",
                                "finetuned refuses XSTest-safe",
                                "finetuned task accuracy",
                                "refusal of advbench left out of alignment",
                                "refusal of jbb-behaviors-harmful left out of alignment"};

}  // namespace

std::vector<uint64_t> parse_zoo_seeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    const size_t dash = part.find('-');
    if (dash == std::string::npos) {
      seeds.push_back(parse_seed(part, text));
      continue;
    }
    const uint64_t lo = parse_seed(part.substr(0, dash), text), hi = parse_seed(part.substr(dash + 1), text);
    if (hi < lo || hi - lo > 1000) throw Error("--zoo-seeds '" + text + "': '" + part + "' is not a range of seeds");
    for (uint64_t s = lo; s <= hi; ++s) seeds.push_back(s);
  }
  if (seeds.empty()) throw Error("--zoo-seeds '" + text + "': no seed");
  std::set<uint64_t> seen;
  for (uint64_t s : seeds)
    if (!seen.insert(s).second) throw Error("--zoo-seeds '" + text + "': seed " + std::to_string(s) + " is given twice");
  return seeds;
}

std::string seed_zoo_dir(uint64_t seed) {
  if (seed == 0) return demo_zoo_dir();
  return (fs::path(cache_dir()) / "zoo" / ("demo-seed-" + std::to_string(seed))).string();
}

std::string seed_efficacy_report(const std::string& work, uint64_t seed) {
  return (fs::path(work) / ("seed-" + std::to_string(seed)) / "efficacy.md").string();
}

std::string seed_efficacy_runs(const std::string& work, uint64_t seed) {
  return (fs::path(work) / ("seed-" + std::to_string(seed)) / "runs").string();
}

int zoos_needed(size_t zoos) { return int((4 * zoos + 4) / 5); }

EfficacySeedsReport gather_efficacy_seeds(const std::vector<uint64_t>& seeds, const std::string& work, const std::string& out,
                                          const std::string& command) {
  EfficacySeedsReport report;
  struct Seed {
    uint64_t seed;
    json table;
    ZooFigures zoo;
    bool shipped;
  };
  std::vector<Seed> have;
  const std::string shipped = shipped_zoo_dir("demo");
  for (uint64_t s : seeds) {
    const std::string path = fs::path(seed_efficacy_report(work, s)).replace_extension(".json").string();
    if (!fs::exists(path)) {
      report.missing.push_back(std::to_string(s));
      continue;
    }
    Seed x{s, read_json_file(path), {}, false};
    const std::string zoo = json_field<std::string>(x.table, "zoo", path);
    x.zoo = zoo_figures(zoo);
    x.shipped = !shipped.empty() && fs::exists(zoo) && fs::equivalent(zoo, shipped);
    have.push_back(std::move(x));
  }
  if (have.empty()) throw Error(work, "no zoo seed's efficacy table is there yet (" + std::to_string(seeds.size()) + " expected)");
  const size_t n = have.size();
  const int needed = zoos_needed(n);

  auto seed_label = [](const Seed& s) { return "seed " + std::to_string(s.seed) + (s.shipped ? " (shipped)" : ""); };
  std::string md = "# Efficacy on the demo zoo, over its training seeds\n\nRegenerate with:\n\n```\n" + command + "\n```\n\n";
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  md += "Each zoo is `safequant zoo --preset demo --seed N`, the same bytes on every machine; the shipped zoo is seed 0, "
        "chosen before any was trained. Every figure is the median [range] over the " +
        std::to_string(n) + " zoos; a claim holds when it holds on at least " + std::to_string(needed) + " of them. Written " +
        date + ".";
  if (!report.missing.empty()) {
    std::string m;
    for (const std::string& s : report.missing) m += (m.empty() ? "" : ", ") + s;
    md += " **Missing:** seeds " + m + " (not made yet, or failed: see their logs under `" + work + "`).";
  }
  md += "\n\n## The zoos\n\n| figure | median [range] |";
  for (const Seed& s : have) md += " " + seed_label(s) + " |";
  md += "\n|---|---|";
  for (size_t i = 0; i < n; ++i) md += "---|";
  md += "\n";
  json zoo_json = json::object();
  for (const char* row : kZooRows) {
    std::vector<double> v;
    for (const Seed& s : have)
      if (s.zoo.v.count(row)) v.push_back(s.zoo.v.at(row));
    if (v.empty()) continue;
    const bool steps = std::string(row).find("steps") != std::string::npos;
    md += std::string("| ") + row + (steps ? "" : " %") + " | " + median_range(v, steps ? "%.0f" : "%.1f") + " |";
    for (const Seed& s : have) md += " " + (s.zoo.v.count(row) ? figure_text(steps ? "%.0f" : "%.1f", s.zoo.v.at(row)) : "–") + " |";
    md += "\n";
    zoo_json[row] = v;
  }

  // Methods: per zoo, the mean over its calibration seeds; then the median and range over zoos.
  struct Key {
    std::string model, scheme, method;
    bool operator<(const Key& o) const { return std::tie(model, scheme, method) < std::tie(o.model, o.scheme, o.method); }
  };
  std::vector<Key> order;
  std::map<Key, std::map<std::string, std::vector<double>>> figures;
  for (const Seed& s : have)
    for (const json& r : s.table.at("rows")) {
      const Key k{r.at("model"), r.at("scheme"), r.at("method")};
      if (!figures.count(k)) order.push_back(k);
      for (const char* f : {"harmful", "over_refusal_benign", "over_refusal_xstest_safe", "task_accuracy"})
        figures[k][f].push_back(mean_of(r.at(f).get<std::vector<double>>()));
      figures[k]["fp_harmful"].push_back(r.at("full_precision").at("harmful").get<double>());
    }
  json rows_json = json::array();
  std::string section;
  for (const Key& k : order) {
    if (k.model + ", " + k.scheme != section) {
      section = k.model + ", " + k.scheme;
      md += "\n## " + section + "\n\n| Method | Harmful % | Over-refusal % | XSTest-safe refused % | Task % | Harmful % per zoo |\n"
            "|---|---|---|---|---|---|\n";
      md += "| full precision | " + median_range(figures[k]["fp_harmful"]) + " | | | | |\n";
    }
    auto& f = figures[k];
    std::string per;
    for (double h : f["harmful"]) per += (per.empty() ? "" : ", ") + figure_text("%.1f", h);
    md += "| " + k.method + " | " + median_range(f["harmful"]) + " | " + median_range(f["over_refusal_benign"]) + " | " +
          median_range(f["over_refusal_xstest_safe"]) + " | " + median_range(f["task_accuracy"]) + " | " + per + " |\n";
    rows_json.push_back({{"model", k.model}, {"scheme", k.scheme}, {"method", k.method}, {"per_zoo", f}});
  }

  // Goals: on how many zoos each held.
  md += "\n## Goals\n\n| goal | held on | verdict | per zoo |\n|---|---|---|---|\n";
  std::vector<std::string> goal_order;
  std::map<std::string, std::vector<std::string>> verdicts;
  std::map<std::string, int> met, tested;
  for (const Seed& s : have)
    for (const json& g : s.table.at("goals")) {
      const std::string text = g.at("goal");
      if (!verdicts.count(text)) goal_order.push_back(text);
      const bool t = g.at("tested"), m = g.at("met");
      verdicts[text].push_back(std::to_string(s.seed) + ": " + (!t ? "untested" : m ? "met" : "missed") + " (" +
                               g.at("figures").get<std::string>() + ")");
      tested[text] += t;
      met[text] += t && m;
    }
  json goals_json = json::array();
  for (const std::string& g : goal_order) {
    const bool holds = met[g] >= needed;
    const std::string verdict = tested[g] == 0 ? "untested" : holds ? "HOLDS" : "does not hold";
    if (tested[g] > 0 && !holds) report.goals_not_holding.push_back(g + ": held on " + std::to_string(met[g]) + " of " + std::to_string(n));
    std::string per;
    for (const std::string& v : verdicts[g]) per += (per.empty() ? "" : "; ") + v;
    md += "| " + g + " | " + std::to_string(met[g]) + " of " + std::to_string(n) + " (" + std::to_string(tested[g]) + " tested) | **" +
          verdict + "** | " + per + " |\n";
    goals_json.push_back({{"goal", g}, {"met", met[g]}, {"tested", tested[g]}, {"zoos", n}, {"holds", holds}, {"per_zoo", verdicts[g]}});
  }
  md += "\nEach zoo's own table, with its calibration seeds and McNemar tests: `" + work + "/seed-<N>/efficacy.md`.\n";

  json seeds_json = json::array();
  for (const Seed& s : have) seeds_json.push_back({{"seed", s.seed}, {"shipped", s.shipped}, {"zoo", s.table.at("zoo")}});
  const json j = {{"zoo_seeds", seeds_json}, {"missing", report.missing}, {"needed", needed}, {"zoos", zoo_json},
                  {"rows", rows_json}, {"goals", goals_json}};
  if (!out.empty()) {
    write_atomically(out, [&](std::ostream& f) { f << md; });
    write_atomically(fs::path(out).replace_extension(".json").string(), [&](std::ostream& f) { f << j.dump(1) << "\n"; });
  }
  report.markdown = md;
  return report;
}

}  // namespace sq
