#pragma once
// The one way an output folder (a quantization run, a demo zoo, an export) is written: into a
// staging folder beside the target, then moved into place in one step, so a reader, a crash or a
// kill at any moment finds the previous output or the complete new one, never a mix and never
// nothing. What is at the target is never deleted unless it is an output of the same kind and
// replacing it was asked for.
#include <string>
#include <vector>

namespace sq {

// The kinds of output folder, each recognised by the file that marks it.
enum class OutputKind { QuantRun, Zoo, Export, Probe, Run };

struct OutputKindInfo {
  OutputKind kind;
  const char* name;    // for messages: "a quantization run"
  const char* marker;  // the file every such folder holds: "run.json"
};
const OutputKindInfo& info(OutputKind kind);

// Does `dir` hold an output of this kind (its marker file)?
bool is_output_of_kind(const std::string& dir, OutputKind kind);

class StagedFolder {
 public:
  // Checks that `target` may be written, before any work: an existing target must be an output
  // of `kind` and `replace` set (or an empty folder); the target must not be, hold or lie inside
  // any of `inputs` or the current folder. Then removes the staging folders that processes no
  // longer running left beside the target (their names are said in `cleaned()`), and makes a
  // fresh one. Throws sq::Error naming the target and the reason.
  StagedFolder(const std::string& target, OutputKind kind, bool replace, const std::vector<std::string>& inputs = {});
  ~StagedFolder();  // removes the staging folder unless committed
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;

  const std::string& path() const { return staging_; }  // write the output here
  const std::string& target() const { return target_; }
  const std::vector<std::string>& cleaned() const { return cleaned_; }

  // Moves the staging folder into place: renamed when the target is new; exchanged with the
  // existing target in one atomic step (renameat2 RENAME_EXCHANGE) otherwise, after which the
  // previous output, now at the staging name, is removed. The staging folder must hold the
  // kind's marker file.
  void commit();

 private:
  std::string target_, staging_;
  OutputKind kind_;
  std::vector<std::string> cleaned_;
  bool committed_ = false;
};

// Fails, naming `output`, when it and `input` are the same path or one lies inside the other
// (after resolving links): writing the output would overwrite or delete the input.
void refuse_overlap(const std::string& output, const std::string& input);

}  // namespace sq
