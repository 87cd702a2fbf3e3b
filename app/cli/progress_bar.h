#pragma once
// Progress on stderr for long commands, unless --quiet: on a terminal, a redrawn line with stage,
// count and ETA; elsewhere (a pipe, a batch job's log) a line with stage, count, rate and ETA at
// most every 10 s ($SAFEQUANT_PROGRESS_SECONDS) while a stage runs; on a terminal or not, a line
// per finished stage with the time it took, so that a log says where the time went.
#include "app/cli/args.h"
#include "core/run/progress.h"

namespace sq::cli {

Progress progress_bar(const Args& args);

}  // namespace sq::cli
