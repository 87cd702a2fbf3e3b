// `safequant export`: a model or quantization run in a runtime's format, with a manifest.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/export/export.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_export(const Args& a) {
  const std::string model = a.required("model"), quant = a.get("quant");
  if (a.has("check")) {
    nlohmann::json out = nlohmann::json::array();
    for (const ExportCheck& c : check_exports(model, quant))
      out.push_back({{"format", c.format}, {"allowed", c.allowed}, {"exact", c.exact}, {"note", c.note}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  ExportOptions o;
  o.model_dir = model;
  o.quant_run = quant;
  o.format = a.required("format");
  o.out = a.required("out");
  o.replace = a.has("force");
  const auto& formats = export_formats();
  if (std::find(formats.begin(), formats.end(), o.format) == formats.end()) {
    std::string list;
    for (const std::string& f : formats) list += (list.empty() ? "" : ", ") + f;
    throw UsageError("--format must be one of " + list);
  }
  o.progress = progress_bar(a);
  sq::start_thread_fitting();
  const ExportResult r = export_model(o);
  uint64_t bytes = 0;
  for (const auto& f : r.files) bytes += f.size;
  if (!a.has("quiet")) {
    std::fprintf(stderr, "export: %s%s: %s\n", o.format.c_str(), r.check.exact ? " (exact)" : "", r.check.note.c_str());
    std::fprintf(stderr, "export: %zu files, %.1f MB, manifest %s\n", r.files.size(), double(bytes) / 1e6, r.manifest.c_str());
  }
  std::printf("%s\n", r.main_file.c_str());
  return 0;
}

}  // namespace sq::cli
