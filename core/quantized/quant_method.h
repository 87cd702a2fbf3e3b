#pragma once
// The quantization methods, and what each needs and starts from. The CLI's --method and help,
// the studio's choices, run.json and the efficacy table read this one table. Torch-free.
#include <string>
#include <vector>

namespace sq {

enum class QuantMethod { Rtn, Gptq, Lwc, QRealign, Aaq };

struct QuantMethodInfo {
  QuantMethod method;
  const char* name;     // as typed and stored: "q-realign"
  const char* title;    // as shown: "Q-realign"
  const char* summary;  // one line for help texts and tooltips
  bool calibrated;      // needs calibration prompts
  bool learns_blocks;   // trains clipping (and LET smoothing) block by block, OmniQuant's way
  bool rounds_gptq;     // rounds with GPTQ on calibration Hessians
  bool needs_aligned;   // follows the aligned model's probes
  bool needs_base;      // pushes away from the unaligned base model
  // Defaults a front end starts from. AAQ trains every layer's smoothing end to end, where a
  // step moves the whole model: OSTQuant's rate for its scales (2e-3), not the per-block 5e-2.
  double learning_rate;
  bool rotate;  // AAQ's learned transforms include the residual rotation (DESIGN.md)
};

const std::vector<QuantMethodInfo>& quant_methods();
const QuantMethodInfo& info(QuantMethod method);
// By name; sq::Error lists the names for an unknown one.
QuantMethod parse_quant_method(const std::string& name);
// "rtn, gptq, lwc, q-realign or aaq"
std::string quant_method_names(const char* last_separator = " or ");

// Raised whenever a method's result changes for the same options (0.1 +: queries, keys and values
// at the activation bits for lwc and q-realign, and LET's q·k scales), so that cached runs, such as
// the efficacy table's, are made again. run.json records it.
inline constexpr int kQuantizerRevision = 2;

// The method the studio offers first: the one the workbench exists to show.
inline constexpr QuantMethod kRecommendedMethod = QuantMethod::QRealign;

}  // namespace sq
