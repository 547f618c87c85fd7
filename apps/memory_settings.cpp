#include "apps/memory_settings.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <climits>
#include <cstdint>
#include <cstdlib>

namespace sm::app {

void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#ifndef __SANITIZE_ADDRESS__
  // Below the trim threshold, so that freeing it keeps it in the heap.
  constexpr std::uintptr_t kReserve = std::uintptr_t{1} << 30, kHugePage = std::uintptr_t{2} << 20;
  void* block = std::malloc(kReserve);
  if (block == nullptr) return;  // no room to reserve: small pages it is
  const auto start = reinterpret_cast<std::uintptr_t>(block);
  const std::uintptr_t begin = (start + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t end = (start + kReserve) & ~(kHugePage - 1);
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice: failure is fine
  std::free(block);
#endif
}

}  // namespace sm::app
