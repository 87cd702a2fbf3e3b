// `safequant efficacy`: every method on the demo zoo's models, over calibration seeds, with the
// McNemar tests and goals, written as a Markdown report (and JSON beside it).
#include <cstdio>
#include <filesystem>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/experiment/efficacy.h"
#include "core/run/resources.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"
#include "core/zoo/zoo.h"

namespace sq::cli {

int run_efficacy(const Args& a) {
  EfficacyOptions o;
  o.zoo = a.get("zoo", demo_zoo_dir());
  o.seeds = a.get_int("seeds", 3);
  if (o.seeds < 1) throw UsageError("--seeds must be at least 1");
  if (a.has("models")) o.models = a.all("models");
  for (const std::string& m : o.models)
    if (m != "finetuned" && m != "aligned") throw UsageError("--models takes finetuned and/or aligned");
  if (a.has("schemes")) o.schemes = a.all("schemes");
  if (a.has("methods")) {
    o.methods.clear();
    for (const std::string& name : a.all("methods")) {
      bool known = false;
      for (EfficacyMethod m : efficacy_methods())
        if (name == efficacy_method_name(m)) o.methods.push_back(m), known = true;
      if (!known) throw UsageError("unknown method '" + name + "' (RTN, GPTQ, LWC+LET, Q-realign, 'Q-realign, random probes', AAQ)");
    }
  }
  // Beside the zoo's name in the user's cache, never inside the zoo (the shipped one is read-only).
  o.work = a.get("work", (std::filesystem::path(cache_dir()) / "efficacy" /
                          (std::filesystem::path(o.zoo).parent_path().filename().string() + "-" +
                           std::filesystem::path(o.zoo).filename().string()))
                             .string());
  o.out = a.get("out", "docs/efficacy.md");
  o.max_new_tokens = a.get_int("max-new", 32);
  o.command = "safequant efficacy";
  for (const char* k : {"seeds", "models", "schemes", "methods"})
    if (a.has(k)) {
      o.command += std::string(" --") + k;
      for (const std::string& v : a.all(k))
        o.command += v.find_first_of(" ,'\"$") == std::string::npos ? " " + v : " '" + v + "'";
    }
  o.command += " --out " + o.out;
  o.progress = progress_bar(a);
  sq::start_thread_fitting();
  const EfficacyResult r = run_efficacy(o);
  std::printf("%s", r.markdown.c_str());
  for (const std::string& g : r.goals_missed) std::fprintf(stderr, "efficacy: GOAL MISSED: %s\n", g.c_str());
  return 0;
}

}  // namespace sq::cli
