// How the programs' allocator treats large buffers (called once, first thing in main).
//
// glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh mapping and
// unmaps it on free, so each multi-megabyte vector of shares that a protocol step allocates
// page-faults its way in and the kernel clears every page first, however often the same sizes
// come and go. keep_freed_memory_for_reuse() makes glibc serve large blocks from the heap too
// and never return the heap's free top to the system, so a freed buffer is reused warm by the
// next step (on this project's development VM, clearing fresh pages was a third of the CPU time
// of `mpc-bench net`). The price: a process keeps its peak heap until it exits (every program
// here is one job long), and a buffer freed below a live one can only be reused by allocations
// that fit into it.
#pragma once

namespace sm::app {

// Sets M_MMAP_MAX = 0 and M_TRIM_THRESHOLD to the largest value (mallopt, which accepts both).
void keep_freed_memory_for_reuse();

}  // namespace sm::app
