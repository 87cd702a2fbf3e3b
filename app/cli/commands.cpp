#include "app/cli/command.h"

#include <filesystem>
#include <sstream>

#include "core/eval/judge_prompt.h"
#include "core/export/export.h"
#include "core/quantized/quant_method.h"
#include "core/quantized/scheme.h"

namespace sq::cli {

namespace {

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : separator) + i;
  return out;
}

// How a command whose work is many `unit`s (a sweep's runs, an efficacy table's zoo seeds) makes
// them: N at a time in processes of its own, or as a Slurm job array with its scripts in `where`.
std::vector<Option> with_slurm_options(std::vector<Option> options, const std::string& unit, const std::string& where) {
  options.insert(options.end(),
                 {{"jobs", Option::Value, "N", unit + "s at once, each in processes of its own (default 1)"},
                  {"gather", Option::Flag, "", "make nothing: gather the table of the " + unit + "s there are, list the others (exit 1 if any)"},
                  {"slurm", Option::Flag, "", "submit the " + unit + "s to Slurm with sbatch, a task each, then a gathering job (scripts in " + where + ")"},
                  {"emit-slurm", Option::Value, "DIR", "write the Slurm scripts (tasks.txt, array.sbatch, gather.sbatch, submit.sh) to DIR"},
                  {"partition", Option::Value, "P", "Slurm partition (default: the cluster's)"},
                  {"time", Option::Value, "T", "Slurm time limit per " + unit + ", as sbatch takes it (default: the partition's)"},
                  {"cpus-per-task", Option::Value, "N", "CPUs per " + unit + " (default 2); its threads are capped to them"},
                  {"sbatch-arg", Option::Values, "ARG", "one more sbatch option for both jobs, written --sbatch-arg=--name=value; repeatable"}});
  return options;
}

// The options of chat_arg(): every command that renders prompts takes them.
// Chat: on with --no-chat to turn it off (probe, eval), off with --chat to turn it on
// (generate), or always on (quantize's calibration).
enum class Chat { Default, OptIn, Always };
std::vector<Option> with_chat_options(std::vector<Option> options, Chat chat) {
  if (chat == Chat::Default)
    options.push_back({"no-chat", Option::Flag, "", "do not wrap prompts in the chat template"});
  else if (chat == Chat::OptIn)
    options.push_back({"chat", Option::Flag, "", "wrap the prompt in the model's chat template"});
  options.insert(options.end(),
                 {{"chat-template", Option::Value, "T",
                   "render with this instead of the model's own template: llama-2|llama-3|chatml|mistral|raw, or a text "
                   "holding {prompt} (and {system})"},
                  {"system", Option::Value, "TEXT", "a system message before each prompt (default: none; the template's own default applies)"},
                  {"chat-date", Option::Value, "YYYY-MM-DD",
                   "the date the template's strftime_now reads (default: today); the report records the date used"}});
  return options;
}

}  // namespace

ChatSettings chat_arg(const Args& a, bool chat_by_default) {
  ChatSettings s;
  s.enabled = chat_by_default ? !a.has("no-chat") : (a.has("chat") || a.has("chat-template"));
  s.format = a.get("chat-template");
  s.system = a.get("system");
  if (a.has("system") && s.system.empty()) throw UsageError("--system is empty");
  if (a.has("chat-date")) s.date = chat_date_or_today(a.get("chat-date"));
  if (!s.enabled && (a.has("system") || a.has("chat-date") || a.has("chat-template")))
    throw UsageError(chat_by_default ? "--no-chat does not go with --system, --chat-date or --chat-template"
                                     : "--system and --chat-date need --chat");
  return s;
}

SlurmOptions slurm_options(const Args& a) {
  SlurmOptions o;
  o.safequant = std::filesystem::read_symlink("/proc/self/exe").string();
  o.partition = a.get("partition");
  o.time = a.get("time");
  o.cpus_per_task = a.get_int("cpus-per-task", o.cpus_per_task);
  o.sbatch_args = a.all("sbatch-arg");
  return o;
}

ComputeDevice device_arg(const Args& a) {
  const std::string name = a.get("device", "cpu");
  const std::optional<ComputeDevice> d = device_from_name(name);
  if (!d) throw UsageError("--device " + name + ": not a device (cpu, cuda or cuda:N)");
  require_available(*d);
  return *d;
}

QuantExecution execution_arg(const Args& a) { return a.has("fake-quant") ? QuantExecution::FakeQuant : QuantExecution::Kernels; }

Option fake_quant_option() {
  return {"fake-quant", Option::Flag, "",
          "compute a quantization run as fake-quantized floating point (as the quantizer saw it) instead of on its packed codes"};
}

Option device_option() {
  return {"device", Option::Value, "cpu|cuda[:N]", "compute on this device (default cpu; cuda needs a LibTorch built with CUDA)"};
}

Option judge_format_option() {
  std::string s = "the judge's prompt format (default llama-guard-3):";
  for (const JudgeFormatInfo& f : judge_formats()) s += std::string(" ") + f.name;
  return {"judge-format", Option::Value, "FORMAT", s};
}

std::vector<Option> common_options() {
  return {{"help", Option::Flag, "", "show this help"},
          {"quiet", Option::Flag, "", "no progress output"}};
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"info", "info",
       "Build and machine facts as JSON",
       "Print the build and machine this SafeQuant runs on (versions, threads, CUDA) as JSON.",
       {},
       0,
       run_info},
      {"zoo", "zoo [--preset tiny|demo|wordnet|senses] [--recipe R] [--out DIR] [--seed N] [--force] | zoo --verify DIR",
       "Train the demo models (base, aligned, finetuned, and a demo judge), or check a zoo's fingerprints",
       "Train the demo models: DIR/base, DIR/aligned, DIR/finetuned, the demo safety judge DIR/judge (Llama Guard 3's "
       "format, for the demo models only) (Hugging Face layout each) and DIR/zoo.json, with "
       "the SHA-256 of each model's weights. Training gives the same bytes on every x86-64 CPU with AVX2 and FMA: the "
       "command starts itself again with ATen's AVX2 kernels and OpenBLAS's Haswell kernels, and trains on 2 threads. "
       "Without --out, the demo preset at seed 0 is the zoo shipped with SafeQuant (nothing is trained); any other zoo "
       "goes to ~/.cache/safequant/zoo/<preset> and is reused while its preset, seed and training format match. "
       "--verify DIR hashes DIR's files and compares them with DIR/zoo.json and with the shipped zoo of the same "
       "preset and seed (exit 1 when any differs).",
       {{"preset", Option::Value, "tiny|demo|wordnet|senses",
         "model size and training budget (default demo; wordnet: demo pre-trained on WordNet first; senses: demo with benign "
         "questions on the senses of the words harmful requests use, from WordNet)"},
        {"out", Option::Value, "DIR", "where the models, the judge and zoo.json go"},
        {"recipe", Option::Value, "R",
         "the base's training: standard (default), or one of the recipes registered to grow outlier channels: long-base "
         "(3x the epochs), no-embedding-decay (weight decay on the linear weights only), flat-lr (no decay of the rate)"},
        {"seed", Option::Value, "N", "random seed (default 0, the shipped zoo's)"},
        {"force", Option::Flag, "", "train again even when a matching zoo is there"},
        {"verify", Option::Value, "DIR", "compare DIR's files with its zoo.json and the shipped zoo's fingerprints"}},
       0,
       run_zoo,
       true},
      {"tokenize", "tokenize (--model DIR|FILE.gguf | --tokenizer FILE) (--text S | --input FILE) [--special]",
       "Token ids of texts with a model's tokenizer",
       "One JSON array of token ids per input line on stdout. --input: one text per line; lines "
       "starting with '\"' are JSON strings. --special applies the post-processor (BOS etc.).",
       {{"model", Option::Value, "DIR", "model folder holding tokenizer.json, or a .gguf file (its tokenizer metadata)"},
        {"tokenizer", Option::Value, "FILE", "a tokenizer.json"},
        {"text", Option::Value, "S", "the text to tokenize"},
        {"input", Option::Value, "FILE", "a file of texts, one per line"},
        {"special", Option::Flag, "", "add special tokens"}},
       0,
       run_tokenize},
      {"logits", "logits --model DIR [--quant RUNDIR] --tokens 1,2,3 [--out FILE.json]",
       "Logits of one forward pass",
       "Logits of a full-precision (or, with --quant, the quantized) forward pass.",
       {{"model", Option::Value, "DIR", "model folder"},
        {"quant", Option::Value, "RUNDIR", "a quantization run"},
        {"tokens", Option::Value, "IDS", "comma-separated token ids"},
        {"out", Option::Value, "FILE", "write the JSON here instead of stdout"},
        {"verify", Option::Flag, "", "check every file of an exported model against its manifest's SHA-256 (sizes are always checked)"},
        fake_quant_option(),
        device_option()},
       0,
       run_logits},
      {"generate",
       "generate --model DIR [--quant RUNDIR] (--prompt S | --tokens 1,2,3) [--chat] [--system TEXT] [--max-new N] [--json]",
       "Generate a completion",
       "Greedy generation (by default). --chat wraps the prompt in the model's own chat template, rendered as transformers renders it.",
       with_chat_options({{"model", Option::Value, "DIR", "model folder"},
        {"quant", Option::Value, "RUNDIR", "a quantization run"},
        {"prompt", Option::Value, "S", "prompt text"},
        {"tokens", Option::Value, "IDS", "comma-separated prompt token ids"},
        {"max-new", Option::Value, "N", "new tokens at most"},
        {"json", Option::Flag, "", "print {prompt_tokens, tokens, text}"},
        {"verify", Option::Flag, "", "check every file of an exported model against its manifest's SHA-256 (sizes are always checked)"},
        fake_quant_option(),
        device_option()}, Chat::OptIn),
       0,
       run_generate},
      {"probe", "probe --model DIR [--quant RUNDIR] [--compare LABEL=DIR[@RUNDIR]...] --data FILE.jsonl... [--out DIR]",
       "Per-layer SLR probes and 2D projections",
       "Capture last-token hidden states of every layer, fit one SLR probe per layer on a split stratified by label "
       "and source, cross-validate it over --folds folds (mean and spread per layer), project to 2D. With --quant or "
       "--compare, the probes and bases of the model are applied unchanged to other models' activations of the same "
       "prompts, so that all share its axes: the model quantized, a model it drifted to (a fine-tune), or that one "
       "quantized (comparison.json, each layer's \"compared\" projections, activations_<label>.safetensors).",
       with_chat_options({{"model", Option::Value, "DIR", "model folder"},
        {"quant", Option::Value, "RUNDIR", "compare the model under this quantization run (labelled \"quantized\")"},
        {"compare", Option::Values, "LABEL=DIR[@RUNDIR]...",
         "compare other models of the same shape and vocabulary, each under a run or not (e.g. finetuned=zoo/finetuned "
         "realigned=zoo/finetuned@runs/q-realign)"},
        {"data", Option::Values, "FILE...", "prompt files (JSONL or CSV)"},
        {"out", Option::Value, "DIR", "output folder (default: probe.json on stdout, no files)"},
        {"force", Option::Flag, "", "replace an existing probe folder at --out (nothing else is ever replaced)"},
        {"C", Option::Value, "X", "inverse L1 strength, as scikit-learn's C (default 1)"},
        {"standardize", Option::Flag, "", "fit on z-scored features"},
        {"penalize-intercept", Option::Flag, "", "penalize |b| as liblinear does (default: the intercept is free, as saga)"},
        {"mean", Option::Flag, "", "pool over the prompt instead of its last token"},
        {"truncate", Option::Flag, "", "prompts longer than the model's context keep their last tokens (default: refused)"},
        {"tsne", Option::Flag, "", "add exact t-SNE maps (up to 5000 points)"},
        {"test-share", Option::Value, "X", "held-out share per label (default 0.2)"},
        {"folds", Option::Value, "K", "cross-validation folds beside the split, stratified by label and source (default 5, 0: none)"},
        {"seed", Option::Value, "N", "split and fold seed (default 0)"},
        {"batch-size", Option::Value, "N", "prompts per forward batch (default 8)"},
        {"verify", Option::Flag, "", "check every file of an exported model against its manifest's SHA-256 (sizes are always checked)"},
        device_option()}, Chat::Default),
       0,
       run_probe},
      {"outliers", "outliers --model DIR [--quant RUNDIR] --data FILE.jsonl... [--threshold 20] [--out FILE.json]",
       "Outlier activation channels per layer",
       "Run the prompts and, per decoder layer, at the inputs of the attention projections (qkv_in: q, k and v; o_in: "
       "o) and of the MLP's (mlp_in: gate and up; down_in: down), take each channel's mean |activation| over every "
       "real token; report the largest channel's over the median channel's. Real LLMs read in the hundreds in some "
       "layers, which is what per-token 4-bit activations lose; a layer at --threshold or above is marked. With --quant, "
       "the inputs are those the run's layers receive (a rotated or smoothed run's in its own basis). A table on "
       "stderr; the JSON on stdout or in --out.",
       with_chat_options({{"model", Option::Value, "DIR", "model folder or .gguf file"},
        {"quant", Option::Value, "RUNDIR", "measure the model under this quantization run"},
        {"data", Option::Values, "FILE...", "prompt files (JSONL or CSV)"},
        {"threshold", Option::Value, "X", "ratio from which a layer has outlier channels (default 20)"},
        {"out", Option::Value, "FILE", "write the JSON here instead of stdout"},
        {"truncate", Option::Flag, "", "prompts longer than the model's context keep their last tokens (default: refused)"},
        {"batch-size", Option::Value, "N", "prompts per forward batch (default 8)"},
        {"verify", Option::Flag, "", "check every file of an exported model against its manifest's SHA-256 (sizes are always checked)"},
        fake_quant_option(), device_option()}, Chat::Default),
       0,
       run_outliers},
      {"sensitivity",
       "sensitivity --model DIR --data FILE.jsonl... [--options w8a16-g32-sym,...] [--samples 64] [--ratio 0.5] --out DIR",
       "What quantizing each unit alone does to refusals and to utility",
       "For every unit of the model (each decoder layer's q/k/v, o, gate/up and down linears, the embedding, an untied "
       "output head) and each weight option (schemes without activation quantization: w<bits>a16 with groups, gguf "
       "types), quantize that unit alone to nearest and compare with full precision on calibration prompts drawn from "
       "--data: the KL of the first --tokens reply tokens on malicious prompts (safety) and on benign ones (utility), "
       "and the change of the log-probability of the model's own refusals. The full-precision model runs once with "
       "every layer's input kept; a unit of layer i recomputes layers i onwards. DIR gets sensitivity.json and "
       "sensitivity.csv.",
       with_chat_options({{"model", Option::Value, "DIR", "model folder"},
        {"data", Option::Values, "FILE...", "labelled prompt files (JSONL or CSV) with malicious and benign prompts"},
        {"options", Option::Value, "LIST", "comma-separated weight schemes (default w8a16-g32-sym,w6a16-g32-sym,w4a16-g32-sym,w3a16-g32-sym,w2a16-g32-sym)"},
        {"samples", Option::Value, "N", "prompts drawn (default 64)"},
        {"ratio", Option::Value, "X", "share of malicious prompts in the draw (default 0.5)"},
        {"seed", Option::Value, "N", "draw seed (default 0)"},
        {"tokens", Option::Value, "N", "first reply tokens compared (default 16)"},
        {"batch-size", Option::Value, "N", "prompts per forward batch (default 8)"},
        {"no-embeddings", Option::Flag, "", "decoder units only"},
        {"out", Option::Value, "DIR", "where the table goes"},
        device_option()}, Chat::Default),
       0,
       run_sensitivity},
      {"allocate",
       "allocate --sensitivity DIR (--budget-bits 4.5 | --budget-bytes N | --front) [--mu 1] [--objective safety|utility] [--out FILE]",
       "Bits per unit under a budget, from a sensitivity table",
       "Pick one option per unit of a `safequant sensitivity` table so that the units' weights fit the budget (an "
       "average of --budget-bits per weight as deployed, or --budget-bytes) and the predicted loss, the units' losses "
       "added, is least: safety KL + mu x utility KL, or utility KL alone with --objective utility (the perplexity-driven "
       "baseline). An exact multiple-choice knapsack, by dynamic programming over the units. --front prints instead the "
       "whole front of predicted loss against bytes (a Lagrangian sweep) as CSV. Writes allocation.json into the table's "
       "folder unless --out says otherwise.",
       {{"sensitivity", Option::Value, "DIR", "a `safequant sensitivity` folder"},
        {"budget-bits", Option::Value, "B", "average bits per weight over the units, scales included"},
        {"budget-bytes", Option::Value, "N", "bytes for the units' weights"},
        {"front", Option::Flag, "", "print the loss-bytes front as CSV instead"},
        {"mu", Option::Value, "X", "weight of utility KL against safety KL (default 1)"},
        {"objective", Option::Value, "safety|utility", "what to minimise (default safety)"},
        {"out", Option::Value, "FILE", "where allocation.json goes"}},
       0,
       run_allocate},
      {"mixed-sweep",
       "mixed-sweep [--zoo-seeds 0-4] [--bits 3,3.5,4,4.5] [--random 5] [--no-judge] --out DIR",
       "The evidence for safety-aware mixed precision on the demo zoos",
       "On each demo zoo's aligned model (seed 0 is the shipped one; others are read from ~/.cache/safequant/zoo/demo-seed-N, "
       "where `safequant zoo --preset demo --seed N --out` that folder trains them, as `efficacy --zoo-seeds` does): the sensitivity table, then at each budget the safety-aware allocation, the utility-only one and random "
       "ones, each quantized with RTN and evaluated on the held-out sets (judged by the zoo's demo judge), beside every "
       "uniform option and llama.cpp's Q4_K_M of the full-precision model. Each allocation is also measured whole on the "
       "calibration draw: the rank correlation of predicted and measured loss says whether unit effects add. Writes "
       "DIR/mixed-sweep.md, .json and the chart mixed-sweep.svg; DIR/zoo-<N>/ keeps each zoo's table, runs and rows, and "
       "a zoo with its rows is not measured again.",
       {{"zoo-seeds", Option::Value, "LIST", "zoo training seeds, as 0,1,2 or 0-4 (default 0)"},
        {"bits", Option::Value, "LIST", "budgets in bits per weight (default 3,3.5,4,4.5)"},
        {"random", Option::Value, "N", "random allocations per budget (default 5)"},
        {"no-judge", Option::Flag, "", "the phrase list only, without the zoo's demo judge"},
        {"out", Option::Value, "DIR", "where the report and each zoo's work go"}},
       0,
       run_mixed_sweep},
      {"quantize",
       "quantize --model DIR --method " + quant_method_names("|") + " (--scheme " + joined(scheme_presets(), "|") +
       " | --mixed SENSITIVITY_DIR --budget-bits B | --mixed ALLOCATION.json) "
       "[--data FILE.jsonl...] [--ratio 0.75] [--samples 200] [--aligned DIR | --probes DIR] [--base DIR] [--lambda X] --out RUNDIR",
       "Quantize a model (RTN, GPTQ, Q-realign, AAQ)",
       "Quantize a model; RUNDIR holds run.json, the quantization parameters and a log. lwc and q-realign train "
       "clipping and smoothing block by block (q-realign: probe push for malicious samples, MSE for benign) and, as "
       "OmniQuant's code does, quantize queries, keys and values at the activation bits unless the scheme names kv<bits> "
       "or qkv<bits> (kv16: none); aaq trains "
       "smoothing end to end on KL(full precision || quantized) - lambda KL(base || quantized), then quantizes with GPTQ. "
       "--rotate folds a randomized Hadamard rotation of the residual stream into the weights (QuaRot), for W4A4.",
       with_chat_options({{"model", Option::Value, "DIR", "model folder"},
        {"method", Option::Value, "METHOD", [] {
           std::string s;
           for (const QuantMethodInfo& m : quant_methods()) s += std::string(s.empty() ? "" : "; ") + m.name + ": " + m.summary;
           return s;
         }()},
        {"scheme", Option::Value, "SCHEME",
         "a preset, or w<2-8>a<4|6|8|16>[kv<b>|qkv<b>][-g32|-g64|-g128|-gt][-sym|-asym] (kv: keys and values as the KV cache "
         "holds them; qkv: the queries too)"},
        {"mixed", Option::Value, "DIR|FILE",
         "mixed precision: a scheme per unit, from a `safequant sensitivity` folder allocated within --budget-bits or "
         "--budget-bytes (as `safequant allocate`), or from an allocation.json; run.json records each unit's choice"},
        {"budget-bits", Option::Value, "B", "--mixed: average bits per weight over the units, scales included"},
        {"budget-bytes", Option::Value, "N", "--mixed: bytes for the units' weights"},
        {"mu", Option::Value, "X", "--mixed: weight of utility KL against safety KL (default 1)"},
        {"objective", Option::Value, "safety|utility", "--mixed: what the allocation minimises (default safety)"},
        {"data", Option::Values, "FILE...", "calibration prompt files"},
        {"ratio", Option::Value, "X", "share of malicious calibration samples"},
        {"samples", Option::Value, "N", "calibration samples"},
        {"aligned", Option::Value, "DIR", "q-realign: the aligned model, whose probes (fitted on the calibration prompts) the push follows"},
        {"probes", Option::Value, "DIR", "q-realign: take the aligned model's probes from this `safequant probe` folder instead"},
        {"random-probes", Option::Flag, "", "q-realign's control: random sparse probes of the same norm and sparsity as the aligned ones"},
        {"teacher", Option::Value, "DIR", "aaq: distil from this model instead of the model's own full-precision outputs (not AAQ as published)"},
        {"constant-epochs", Option::Flag, "", "lwc / q-realign: --epochs for every block (default: 5 fewer for the first half, 5 more for the rest)"},
        {"block-target", Option::Value, "fp|quantized-inputs", "lwc / q-realign: reconstruct the full-precision model's block output (default) or the full-precision block on the quantized inputs"},
        {"base", Option::Value, "DIR", "unaligned base model (AAQ)"},
        {"lambda", Option::Value, "X", "AAQ push-away weight (default 0.5)"},
        {"top-k", Option::Value, "K", "AAQ: tokens per position the KL terms cover (default 64)"},
        {"rotate", Option::Flag, "", "rotate the residual stream (randomized Hadamard) before quantizing (aaq's default)"},
        {"no-rotate", Option::Flag, "", "aaq: no residual rotation"},
        {"no-smooth", Option::Flag, "", "lwc / q-realign: learn clipping only, no smoothing scales (LET)"},
        {"out", Option::Value, "RUNDIR", "run folder"},
        {"force", Option::Flag, "", "replace an existing run at --out (nothing else is ever replaced)"},
        {"seq-len", Option::Value, "N", "calibration tokens per sample (default 128)"},
        {"seed", Option::Value, "N", "calibration draw seed (default 0)"},
        {"damp", Option::Value, "X", "GPTQ damping, share of the mean Hessian diagonal (default 0.01)"},
        {"act-order", Option::Flag, "", "GPTQ: quantize columns in order of decreasing Hessian diagonal"},
        {"hessian-f64", Option::Flag, "", "GPTQ: accumulate Hessians and update weights in float64 (default float32, as GPTQ's reference code)"},
        {"epochs", Option::Value, "N", "lwc / q-realign: epochs per block; aaq: epochs end to end (default 10)"},
        {"lr", Option::Value, "X", [] {
           std::ostringstream s;
           s << "learning rate of clip factors and smoothing scales (default";
           for (const QuantMethodInfo& m : quant_methods())
             if (m.learns_blocks || m.needs_base) s << " " << m.name << " " << m.learning_rate;
           return s.str() + ")";
         }()},
        device_option()}, Chat::Always),
       0,
       run_quantize},
      {"eval", "eval --model DIR... [--quant RUNDIR] --data FILE.jsonl... [--max-new N] [--judge DIR [--judge-format F]] [--out FILE.json]",
       "Harmful score, over-refusal, perplexity, task accuracy",
       "Harmful score (% of malicious prompts whose greedy chat completion is not a refusal), "
       "over-refusal (benign and XSTest-safe apart), perplexity on the benign prompts and task accuracy where "
       "prompts carry an answer. With --judge, a safety judge (Llama Guard 3, HarmBench's classifiers) scores "
       "each malicious prompt's reply too, and its agreement with the phrase list is reported. Several --model folders "
       "give one comparison table (JSON, and CSV beside --out).",
       with_chat_options({{"model", Option::Values, "DIR...", "model folder(s)"},
        {"quant", Option::Values, "RUNDIR...", "quantization run(s) of the model, compared with it when several"},
        {"data", Option::Values, "FILE...", "prompt files (JSONL or CSV)"},
        {"max-new", Option::Value, "N", "new tokens per completion (default 48)"},
        {"out", Option::Value, "FILE", "report file (default: stdout)"},
        {"refusals", Option::Value, "LIST|FILE", "refusal phrases: a shipped list name (default gcg_eval_transfer) or a file"},
        {"batch-size", Option::Value, "N", "prompts per generation batch (default 8)"},
        {"truncate", Option::Flag, "", "prompts longer than the model's context keep their last tokens (default: refused)"},
        {"no-perplexity", Option::Flag, "", "skip perplexity"},
        {"verify", Option::Flag, "", "check every file of an exported model against its manifest's SHA-256 (sizes are always checked)"},
        {"judge", Option::Value, "DIR", "a safety judge's model folder: judges every malicious prompt's reply beside the phrase list"},
        judge_format_option(),
        {"judge-batch-size", Option::Value, "N", "replies per judge batch (default 8)"},
        {"no-judge-prefix", Option::Flag, "", "compute the judge's shared instructions for every reply (slower; for measuring)"},
        fake_quant_option(),
        device_option()}, Chat::Default),
       0,
       run_eval},
      {"efficacy",
       "efficacy [--zoo DIR | --zoo-seeds 0,1,2,3,4 [--jobs N | --slurm | --emit-slurm DIR | --gather]] [--seeds N] [--models finetuned aligned] [--schemes S...] "
       "[--methods M...] [--out FILE.md]",
       "The efficacy table: every method on the demo zoo, or over several zoo seeds",
       "Quantize the zoo's fine-tuned and aligned models with RTN, GPTQ, LWC+LET, Q-realign, Q-realign with random probes "
       "(a control) and AAQ, at W8A8 and at W4A4 with rotation, once per calibration seed; evaluate each on the zoo's "
       "held-out prompts; test each method against LWC+LET with an exact McNemar test on the malicious prompts; check "
       "the goals. Writes the Markdown report (default docs/efficacy.md) and its figures as JSON beside it. Runs are "
       "kept under --work and reused while the zoo is the same. With --zoo-seeds, every seed's demo zoo is trained (or "
       "reused: seed 0 is the shipped zoo) and gets its own table under --work/seed-<N>/, each by commands of their own, "
       "--jobs seeds at a time, or as a Slurm job array (--slurm, --emit-slurm); the report then gives every figure as the median and range over the zoos and says on how "
       "many zoos each goal held (a claim holds on at least four fifths of them). --gather only makes the report from "
       "the tables there; exit 1 while a seed's table is missing.",
       with_slurm_options(
       {{"zoo", Option::Value, "DIR", "a `safequant zoo` folder (default: the shipped demo zoo)"},
        {"zoo-seeds", Option::Value, "LIST", "demo zoo training seeds, '0,1,2,3,4' or '0-4'"},
        {"seeds", Option::Value, "N", "calibration seeds per method (default 3)"},
        {"models", Option::Values, "ROLE...", "finetuned and/or aligned (default both)"},
        {"schemes", Option::Values, "S...", "schemes, '+rotation' to rotate (default w8a8 w4a4+rotation)"},
        {"methods", Option::Values, "M...", "a subset of the methods, by their table names"},
        {"work", Option::Value, "DIR",
         "where the quantization runs go (default ~/.cache/safequant/efficacy/<zoo folder>, or .../zoo-seeds)"},
        {"max-new", Option::Value, "N", "new tokens per completion (default 32, the zoo's own)"},
        {"judge", Option::Value, "DIR",
         "a safety judge's model folder: judged harmful scores and kappa beside the phrase list's (default: the zoo's demo judge)"},
        judge_format_option(),
        {"no-judge", Option::Flag, "", "no judged columns, not even the zoo's demo judge's"},
        {"out", Option::Value, "FILE", "the report (default docs/efficacy.md)"}},
        "zoo seed", "WORK/slurm"),
       0,
       run_efficacy},
      {"export",
       "export --model DIR [--quant RUNDIR] --format " + joined(export_formats(), "|") + " --out DIR",
       "Export to GGUF, compressed-tensors or bf16",
       "Write the model (with --quant, the quantized model) in a format a real runtime loads: GGUF for llama.cpp, "
       "compressed-tensors for vLLM, or a plain bf16 checkpoint. The output folder holds the files and manifest.json "
       "(size and SHA-256 of each file, the model and the run). Atomic: a new folder appears complete or not at all; "
       "in an existing one each file is replaced whole. --check lists what each format means for this model and run.",
       {{"model", Option::Value, "DIR", "model folder"},
        {"quant", Option::Value, "RUNDIR", "a quantization run"},
        {"format", Option::Value, "FORMAT", "output format"},
        {"out", Option::Value, "DIR", "output folder"},
        {"force", Option::Flag, "", "replace an existing export at --out (nothing else is ever replaced)"},
        {"check", Option::Flag, "", "print, as JSON, whether each format is allowed and exact; write nothing"}},
       0,
       run_export},
      {"run", "run CONFIG.json [--out DIR] [--force]",
       "The whole pipeline from one config",
       "Quantize, evaluate and export as one JSON config says (README: \"One run from a config\"; examples/run.json), into "
       "one run folder: run-config.json (the resolved config and its hash), quant/ (the quantization run), eval.json and "
       "exports/<format>/. A complete run of the same resolved config and inputs is reused, not recomputed. An unknown "
       "key, a wrong type, a value out of range or a missing file is refused before any work, naming the key (exit 2).",
       {{"out", Option::Value, "DIR", "the run folder (overrides the config's \"out\")"},
        {"force", Option::Flag, "", "replace a run of another config at the folder (nothing else is ever replaced)"},
        device_option()},
       1,
       run_run},
      {"sweep", "sweep CONFIG.json [--jobs N | --slurm | --emit-slurm DIR | --gather]",
       "A grid of runs and their trade-off",
       "A grid of runs: {\"run\": a run config, \"grid\": {\"key\": [values...]}, \"out\": DIR} (README: \"A grid of "
       "runs\"). Every run the grid expands to is checked before any work; the runs not done yet are made by `safequant "
       "run`, N at a time, each with its log beside its folder; sweep.json and sweep.csv hold one row per run with every "
       "swept field and every metric. Runs that failed are listed with their logs (exit 1); running the sweep again makes "
       "only what is missing. --slurm submits the runs as one Slurm job array (a task per run, each `safequant run` on "
       "the shared sweep folder) and a job that gathers the table after it; --emit-slurm writes those scripts without "
       "submitting them.",
       with_slurm_options(
       {}, "run", "SWEEP/slurm"),
       1,
       run_sweep},
  };
  return table;
}

}  // namespace sq::cli
