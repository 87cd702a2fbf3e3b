// `safequant zoo`: train (or reuse) the demo models and say how they behave; or check that a zoo's
// models are the ones its zoo.json and the shipped zoo fingerprint.
#include <algorithm>
#include <cstdio>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/error.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"
#include "core/zoo/zoo.h"

namespace sq::cli {

namespace {

// Each file's SHA-256 against zoo.json's and, where one is shipped for the same preset and seed,
// the shipped zoo's; exit 1 when any differs.
int verify_zoo(const std::string& dir) {
  const ZooRecord mine = read_zoo_record(dir);
  if (mine.fingerprints.empty())
    throw Error(dir + "/zoo.json: no \"fingerprints\" (a zoo trained before fingerprints were recorded; train it again)");
  const std::map<std::string, std::string> now = zoo_fingerprints(dir);
  std::map<std::string, std::string> shipped;
  const std::string shipped_dir = shipped_zoo_dir(mine.preset);
  if (!shipped_dir.empty()) {
    const ZooRecord s = read_zoo_record(shipped_dir);
    if (s.seed == mine.seed && s.recipe == mine.recipe && s.format == mine.format) shipped = s.fingerprints;
  }
  bool same = true;
  std::printf("%-10s %-16s %-9s %s\n", "file", "SHA-256", "zoo.json", shipped.empty() ? "" : "shipped zoo");
  for (const auto& [name, sha] : now) {
    const auto rec = mine.fingerprints.find(name);
    const bool rec_ok = rec != mine.fingerprints.end() && rec->second == sha;
    const auto sh = shipped.find(name);
    const bool sh_ok = shipped.empty() || (sh != shipped.end() && sh->second == sha);
    same = same && rec_ok && sh_ok;
    std::printf("%-10s %.16s %-9s %s\n", name.c_str(), sha.c_str(), rec_ok ? "same" : "DIFFERS", shipped.empty() ? "" : sh_ok ? "same" : "DIFFERS");
  }
  if (shipped.empty())
    std::fprintf(stderr, "zoo: no shipped zoo of preset %s, recipe %s, seed %llu and format %d to compare with\n", mine.preset.c_str(),
                 zoo_recipe_name(mine.recipe), static_cast<unsigned long long>(mine.seed), mine.format);
  std::fprintf(stderr, "zoo: %s\n", same ? "every file is the one fingerprinted" : "FINGERPRINTS DIFFER: this zoo was trained otherwise");
  return same ? 0 : 1;
}

}  // namespace

int run_zoo(const Args& a) {
  if (a.has("verify")) return verify_zoo(a.required("verify"));
  ZooOptions o;
  o.preset = a.get("preset", "demo");
  const auto& presets = zoo_presets();
  if (std::find(presets.begin(), presets.end(), o.preset) == presets.end())
    throw UsageError("--preset must be one of " + zoo_preset_names());
  const std::optional<ZooRecipe> recipe = zoo_recipe_from_name(a.get("recipe", zoo_recipe_name(ZooRecipe::Standard)));
  if (!recipe) throw UsageError("--recipe must be one of " + zoo_recipe_names());
  o.recipe = *recipe;
  o.out = a.get("out");
  o.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  o.force = a.has("force");
  o.progress = progress_bar(a);
  sq::start_thread_fitting();
  const ZooResult r = build_zoo(o);
  std::printf("%s\n", r.dir.c_str());
  if (!a.has("quiet")) {
    std::fprintf(stderr, "zoo: %s %s\n%s",
                 r.shipped  ? "using the zoo shipped with SafeQuant in"
                 : r.reused ? "reusing the cached zoo in"
                            : "trained the zoo into",
                 r.dir.c_str(), r.summary.c_str());
  }
  for (const std::string& m : r.missed) std::fprintf(stderr, "zoo: TARGET MISSED: %s\n", m.c_str());
  for (const std::string& m : r.premises_not_met) std::fprintf(stderr, "PREMISE NOT MET: %s\n", m.c_str());
  return 0;
}

}  // namespace sq::cli
