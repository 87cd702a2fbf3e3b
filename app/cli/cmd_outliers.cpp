// `safequant outliers`: outlier activation channels of a model, per layer and linear input.
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/io/atomic_file.h"
#include "core/probe/outliers.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_outliers(const Args& a) {
  const auto files = a.all("data");
  if (files.empty()) throw UsageError("--data is required");
  OutlierOptions o;
  o.threshold = a.get_double("threshold", o.threshold);
  if (!(o.threshold > 0)) throw UsageError("--threshold must be positive");
  o.batch_size = a.get_int("batch-size", o.batch_size);
  if (o.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  o.chat = chat_arg(a);
  o.truncate = a.has("truncate");
  o.progress = progress_bar(a);
  const std::vector<Prompt> prompts = load_prompt_files(files);
  sq::start_thread_fitting();
  const auto model = Model::load(a.required("model"), a.get("quant"), a.has("verify"), device_arg(a), execution_arg(a));
  const OutlierReport r = measure_outliers(*model, prompts, o);
  if (!a.has("quiet")) {
    std::cerr << outlier_table(r);
    if (!r.note.empty()) std::cerr << "outliers: " << r.note << "\n";
  }
  if (a.has("out"))
    write_atomically(a.get("out"), [&](std::ostream& out) { out << to_json(r) << "\n"; });
  else
    std::cout << to_json(r) << "\n";
  return 0;
}

}  // namespace sq::cli
