#include <iostream>

#include "app/cli/command.h"
#include "core/run/system_info.h"
#include "core/run/threads.h"

namespace sq::cli {

int run_info(const Args&) {
  sq::start_thread_fitting();
  std::cout << to_json(sq::system_info()) << "\n";
  return 0;
}

}  // namespace sq::cli
