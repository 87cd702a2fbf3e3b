#pragma once
// Child processes of `safequant`: a sweep's runs and a multi-zoo efficacy table's stages each run
// as a command of their own, as a cluster's tasks would.
#include <sys/types.h>

#include <string>
#include <vector>

namespace sq::cli {

// Starts `argv` with its output in `log` (or this process's stderr when empty) and this process's
// environment with `extra_env` ("NAME=value") added; returns its pid. sq::Error when it cannot start.
pid_t spawn(std::vector<std::string> argv, const std::string& log, const std::vector<std::string>& extra_env = {});

// The environment children made side by side get: OpenMP threads that wait passively (unless the
// user chose a policy). Two runs at once whose threads spun took 128 s each on the demo zoo, 6.7
// times a run alone (bench_contention shows the same for evaluations).
std::vector<std::string> side_by_side_env(bool side_by_side);

}  // namespace sq::cli
