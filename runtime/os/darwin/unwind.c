/*
 * unwind.c — darwin stack traces (os.h): the frame-pointer chain, and
 * dladdr for names.
 *
 * Both darwin ABIs keep frame pointers (arm64: required by Apple's ABI;
 * x86_64: clang's default there), so the chain of frame records [fp] =
 * caller's fp, [fp + 8] = return address is the traceback.  A walk stays
 * inside the stack [lo, hi) and needs fp to grow, so it ends at the
 * goroutine's first frame (whose fp is 0) or at any broken link.  darwin
 * gives no file:line without the dSYM; names come from dladdr, which sees
 * exported symbols only.  (Compiled in CI, never run: no macOS here.)
 */
#if defined(__APPLE__)
#include <dlfcn.h>
#include <stdio.h>

#include "runtime/os/os.h"

GORT_RUNTIME_TEXT void gort_os_traceback_init(void) {}

GORT_RUNTIME_TEXT int gort_os_unwind(const gort_regs *r, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int max) {
    int n = 0;
    uintptr_t fp = r->r[GORT_REG_FP];
    if (max <= 0) return 0;
    pcs[n++] = r->r[GORT_REG_PC];
    while (n < max && fp >= lo && fp + 16 <= hi && fp % 8 == 0) {
        const uintptr_t *rec = (const uintptr_t *)fp;
        if (rec[1] == 0) break;
        pcs[n++] = rec[1];
        if (rec[0] <= fp) break;
        fp = rec[0];
    }
    return n;
}

GORT_RUNTIME_TEXT bool gort_os_symbols_begin(void) { return true; }
GORT_RUNTIME_TEXT void gort_os_symbols_end(void) {}

GORT_RUNTIME_TEXT void gort_os_symbolize(uintptr_t pc, bool return_address, char *buf, size_t n) {
    Dl_info info;
    if (dladdr((const void *)(return_address ? pc - 1 : pc), &info) != 0 && info.dli_sname != NULL)
        snprintf(buf, n, "%s+0x%llx in %s", info.dli_sname, (unsigned long long)(pc - (uintptr_t)info.dli_saddr),
                 info.dli_fname != NULL ? info.dli_fname : "?");
    else
        snprintf(buf, n, "0x%llx", (unsigned long long)pc);
}
#endif
