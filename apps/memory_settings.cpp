#include "apps/memory_settings.hpp"

#include <malloc.h>

#include <climits>

namespace sm::app {

void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

}  // namespace sm::app
