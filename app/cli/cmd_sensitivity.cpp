// `safequant sensitivity`: each unit of a model quantized alone at each weight option.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/mixed/sensitivity.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_sensitivity(const Args& a) {
  const auto files = a.all("data");
  if (files.empty()) throw UsageError("--data is required: labelled prompt files with malicious and benign prompts");
  SensitivityOptions o;
  if (a.has("options")) {
    o.options.clear();
    std::stringstream list(a.get("options"));
    for (std::string item; std::getline(list, item, ',');)
      if (!item.empty()) o.options.push_back(item);
  }
  o.samples = a.get_int("samples", o.samples);
  o.ratio = a.get_double("ratio", o.ratio);
  o.seed = uint64_t(a.get_int("seed", int(o.seed)));
  o.response_tokens = a.get_int("tokens", o.response_tokens);
  o.batch_size = a.get_int("batch-size", o.batch_size);
  o.embeddings = !a.has("no-embeddings");
  if (o.samples < 2) throw UsageError("--samples must be at least 2");
  if (!(o.ratio > 0 && o.ratio < 1)) throw UsageError("--ratio must be between 0 and 1");
  o.chat = chat_arg(a);
  o.device = device_arg(a);
  o.progress = progress_bar(a);
  o.prompts = load_prompt_files(files);
  sq::start_thread_fitting();
  const std::string out = a.required("out");
  const SensitivityTable t = measure_sensitivity(a.required("model"), o);
  write_sensitivity(out, t);
  if (!a.has("quiet")) {
    std::cerr << "sensitivity: " << t.units.size() << " units x " << t.options.size() << " options on " << t.malicious
              << " malicious (" << t.refused << " refused) and " << t.benign << " benign prompts, " << std::fixed
              << std::setprecision(0) << t.seconds << " s\n"
              << std::setprecision(4) << "unit                 option             safety KL  refusal logp  utility KL\n";
    for (size_t u = 0; u < t.units.size(); ++u)
      for (size_t k = 0; k < t.options.size(); ++k)
        std::cerr << std::left << std::setw(21) << t.units[u].name() << std::setw(19) << t.options[k] << std::right << std::setw(9)
                  << t.cells[u][k].safety_kl << std::setw(14) << t.cells[u][k].refusal_change << std::setw(12) << t.cells[u][k].utility_kl
                  << "\n";
  }
  std::cout << out << "/sensitivity.json\n";
  return 0;
}

}  // namespace sq::cli
