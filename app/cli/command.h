#pragma once
// The table of `safequant` commands, each with its usage, help and entry point.
#include <functional>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "core/experiment/slurm.h"
#include "core/model/model.h"
#include "core/run/device.h"

namespace sq::cli {

struct Command {
  std::string name;
  std::string synopsis;     // the usage line after "safequant "
  std::string summary;      // one line for the overview
  std::string description;  // a paragraph for --help
  std::vector<Option> options;
  size_t max_positional = 0;
  std::function<int(const Args&)> run;  // exit code; throws UsageError or sq::Error
  // Starts itself again under the settings that make training the same on every CPU
  // (core/run/reproducible.h) before it runs.
  bool reproducible = false;
};

const std::vector<Command>& commands();

// Options every command takes.
std::vector<Option> common_options();

// The device --device names (the CPU when absent), checked to be available: an unknown name is
// a UsageError, a device this build or machine lacks an sq::Error saying why.
ComputeDevice device_arg(const Args& args);
// The Slurm options of a command that submits jobs (--partition, --time, --cpus-per-task,
// --sbatch-arg), with this executable as the one every task runs.
SlurmOptions slurm_options(const Args& args);
// How prompts are rendered: --no-chat (or, where chat is opt-in, --chat), --chat-template,
// --system and --chat-date. `chat_by_default` is false for generate, whose prompt is raw unless
// asked.
ChatSettings chat_arg(const Args& args, bool chat_by_default = true);
// --fake-quant: a quantization run computes as fake-quantized floating point, not on its codes.
QuantExecution execution_arg(const Args& args);

int run_info(const Args& args);
int run_tokenize(const Args& args);
int run_logits(const Args& args);
int run_generate(const Args& args);
int run_probe(const Args& args);
int run_outliers(const Args& args);
int run_sensitivity(const Args& args);
int run_allocate(const Args& args);
int run_mixed_sweep(const Args& args);
int run_eval(const Args& args);
int run_zoo(const Args& args);
int run_quantize(const Args& args);
int run_export(const Args& args);
int run_efficacy(const Args& args);
int run_run(const Args& args);
int run_sweep(const Args& args);

}  // namespace sq::cli
