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
//
// It also asks for transparent huge pages on the heap's first GiB (madvise MADV_HUGEPAGE: the
// kernel setting "madvise", Debian's default, honours it; "never" ignores it). Memory a process
// touches for the first time costs a page fault per page: with 2 MiB pages instead of 4 KiB, the
// set-up of a large job (a party's shares of a 100,000 x 100 data matrix and the buffers of
// inputting it, about 600 MB) took half the time on the development VM, where a GiB of fresh
// 4 KiB pages cost 3-4 s and of huge pages 0.7-1.7 s. The price: the resident size grows in
// 2 MiB steps.
#pragma once

namespace sm::app {

// Sets M_MMAP_MAX = 0 and M_TRIM_THRESHOLD to the largest value (mallopt, which accepts both),
// then grows the heap by 1 GiB untouched, advises huge pages for it and frees it again (it stays
// the heap's free top, where the next allocations come from). Without effect under
// AddressSanitizer, whose allocator ignores both.
void keep_freed_memory_for_reuse();

}  // namespace sm::app
