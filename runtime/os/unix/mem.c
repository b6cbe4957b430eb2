/*
 * mem.c — memory mappings, POSIX (linux and darwin).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/os/os.h"

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

GORT_RUNTIME_TEXT size_t gort_os_pagesize(void) {
    static size_t page;
    if (page == 0) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

GORT_RUNTIME_TEXT void *gort_os_map(size_t n) {
    /* NORESERVE: stacks are mostly never touched; do not charge them to the
     * overcommit budget up front. */
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

GORT_RUNTIME_TEXT void gort_os_unmap(void *p, size_t n) { munmap(p, n); }

GORT_RUNTIME_TEXT int gort_os_guard(void *p, size_t n) { return mprotect(p, n, PROT_NONE) == 0 ? 0 : -errno; }
