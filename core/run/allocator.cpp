#include "core/run/allocator.h"

#include <mutex>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace sq {

void keep_freed_memory() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    // Blocks below glibc's ceiling for the threshold (32 MB) come from the heap and return to it.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    // Up to 256 MB free at the heap's top stays mapped, and the heap grows 64 MB at a time.
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
  });
#endif
}

}  // namespace sq
