#pragma once
// Progress on stderr for long commands, unless --quiet: on a terminal, a redrawn line with stage,
// count and ETA; on a terminal or not, a line per finished stage with the time it took, so that a
// log says where the time went.
#include "app/cli/args.h"
#include "core/run/progress.h"

namespace sq::cli {

Progress progress_bar(const Args& args);

}  // namespace sq::cli
