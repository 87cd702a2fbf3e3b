#pragma once
// Progress on stderr for long commands: a redrawn line with stage, count and ETA, only when
// stderr is a terminal and --quiet was not given.
#include "app/cli/args.h"
#include "core/run/progress.h"

namespace sq::cli {

Progress progress_bar(const Args& args);

}  // namespace sq::cli
