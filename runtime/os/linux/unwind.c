/*
 * unwind.c — linux stack traces (os.h): libunwind unwinds, libdw names.
 *
 * Both are Debian's (libunwind8, libdw1), loaded with dlopen(RTLD_LOCAL)
 * rather than linked:
 *   - libunwind.so exports its own _Unwind_* (the C++ exception ABI);
 *     linked, it would take over C++ exceptions from libgcc_s in every
 *     program that links gort.  Loaded locally, only we see it.
 *   - a program links gort without either: the dump then shows what it
 *     can (the first frame, bare pcs), and libgort has no new
 *     dependencies for static or pkg-config users.
 * libunwind is loaded at start-up (gort_os_text_init), never in a signal
 * handler; unw_init_local2 and unw_step are async-signal-safe for the
 * local address space (libunwind(3)), so the SIGURG handler unwinds its
 * own goroutine.  libdw allocates: gort_os_symbols_begin/_end bracket a
 * dump, and the core calls them only where malloc is safe.
 */
#if defined(__linux__)
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#define UNW_LOCAL_ONLY /* the _UL* (this process) entry points */
#include <libunwind.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/os/os.h"

#define STR_(x) #x
#define STR(x) STR_(x) /* unw_* are macros for the arch's real names */

static struct {
    __typeof__(unw_init_local2) *init_local2;
    __typeof__(unw_step) *step;
    __typeof__(unw_get_reg) *get_reg;
} unw;

static struct {
    __typeof__(dwfl_begin) *begin;
    __typeof__(dwfl_end) *end;
    __typeof__(dwfl_linux_proc_report) *proc_report;
    __typeof__(dwfl_report_end) *report_end;
    __typeof__(dwfl_linux_proc_find_elf) *find_elf;
    __typeof__(dwfl_standard_find_debuginfo) *find_debuginfo;
    __typeof__(dwfl_addrmodule) *addrmodule;
    __typeof__(dwfl_module_addrinfo) *addrinfo;
    __typeof__(dwfl_module_getsrc) *getsrc;
    __typeof__(dwfl_lineinfo) *lineinfo;
    __typeof__(dwfl_module_info) *module_info;
    Dwfl *dwfl;
    Dwfl_Callbacks callbacks;
} dw;

/* dlsym into a typed pointer; false if missing. */
#define LOAD(lib, field, name) (*(void **)(&(field)) = dlsym(lib, name), (field) != NULL)

GORT_RUNTIME_TEXT void gort_os_traceback_init(void) {
    void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return;
    if (!(LOAD(lib, unw.init_local2, STR(unw_init_local2)) && LOAD(lib, unw.step, STR(unw_step)) &&
          LOAD(lib, unw.get_reg, STR(unw_get_reg))))
        unw.init_local2 = NULL;
}

/* libunwind's context is the kernel's ucontext layout (amd64: ucontext_t;
 * arm64: a trimmed copy of it); only pc, sp and the general registers
 * matter for unwinding. */
GORT_RUNTIME_TEXT static void to_unw_context(const gort_regs *r, unw_context_t *uc) {
    memset(uc, 0, sizeof *uc);
#if defined(__x86_64__)
    static const int greg[GORT_NREGS] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI,
                                         REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                         REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP};
    for (int i = 0; i < GORT_NREGS; i++) uc->uc_mcontext.gregs[greg[i]] = (greg_t)r->r[i];
#elif defined(__aarch64__)
    for (int i = 0; i <= 30; i++) uc->uc_mcontext.regs[i] = r->r[i];
    uc->uc_mcontext.sp = r->r[GORT_REG_SP];
    uc->uc_mcontext.pc = r->r[GORT_REG_PC];
#endif
}

GORT_RUNTIME_TEXT int gort_os_unwind(const gort_regs *r, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int max) {
    int n = 0;
    if (max <= 0) return 0;
    pcs[n++] = r->r[GORT_REG_PC];
    /* libunwind reads the code at pc (arm64: is it the sigreturn
     * trampoline?): never start it at a pc that cannot be code */
    if (unw.init_local2 == NULL || r->r[GORT_REG_PC] < 4096) return n;
    unw_context_t uc;
    unw_cursor_t cur;
    to_unw_context(r, &uc);
    if (unw.init_local2(&cur, &uc, r->pc_exact ? UNW_INIT_SIGNAL_FRAME : 0) != 0) return n;
    while (n < max && unw.step(&cur) > 0) {
        unw_word_t ip = 0, sp = 0;
        unw.get_reg(&cur, UNW_REG_IP, &ip);
        unw.get_reg(&cur, UNW_REG_SP, &sp);
        if (ip == 0 || sp < lo || sp > hi) break; /* off the stack: done */
        pcs[n++] = (uintptr_t)ip;
    }
    return n;
}

GORT_RUNTIME_TEXT bool gort_os_symbols_begin(void) {
    static void *lib;
    if (lib == NULL && (lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL)) == NULL) return false;
    if (dw.begin == NULL &&
        !(LOAD(lib, dw.end, "dwfl_end") && LOAD(lib, dw.proc_report, "dwfl_linux_proc_report") &&
          LOAD(lib, dw.report_end, "dwfl_report_end") && LOAD(lib, dw.find_elf, "dwfl_linux_proc_find_elf") &&
          LOAD(lib, dw.find_debuginfo, "dwfl_standard_find_debuginfo") &&
          LOAD(lib, dw.addrmodule, "dwfl_addrmodule") && LOAD(lib, dw.addrinfo, "dwfl_module_addrinfo") &&
          LOAD(lib, dw.getsrc, "dwfl_module_getsrc") && LOAD(lib, dw.lineinfo, "dwfl_lineinfo") &&
          LOAD(lib, dw.module_info, "dwfl_module_info") && LOAD(lib, dw.begin, "dwfl_begin")))
        return false;
    dw.callbacks.find_elf = dw.find_elf;
    dw.callbacks.find_debuginfo = dw.find_debuginfo;
    /* a fresh view per dump: libraries loaded since are included */
    if ((dw.dwfl = dw.begin(&dw.callbacks)) == NULL) return false;
    if (dw.proc_report(dw.dwfl, getpid()) != 0 || dw.report_end(dw.dwfl, NULL, NULL) != 0) {
        dw.end(dw.dwfl);
        dw.dwfl = NULL;
        return false;
    }
    return true;
}

GORT_RUNTIME_TEXT void gort_os_symbols_end(void) {
    if (dw.dwfl != NULL) dw.end(dw.dwfl);
    dw.dwfl = NULL;
}

GORT_RUNTIME_TEXT void gort_os_symbolize(uintptr_t pc, bool return_address, char *buf, size_t n) {
    /* a return address may be past the end of a noreturn call's function:
     * look up the call itself */
    Dwarf_Addr look = return_address ? pc - 1 : pc;
    Dwfl_Module *mod = dw.dwfl != NULL ? dw.addrmodule(dw.dwfl, look) : NULL;
    const char *name = NULL, *file = NULL, *modname = NULL;
    GElf_Off off = 0;
    GElf_Sym sym;
    Dwarf_Addr base = 0;
    int line = 0;
    if (mod != NULL) {
        name = dw.addrinfo(mod, look, &off, &sym, NULL, NULL, NULL);
        Dwfl_Line *l = dw.getsrc(mod, look);
        if (l != NULL) file = dw.lineinfo(l, NULL, &line, NULL, NULL, NULL);
        modname = dw.module_info(mod, NULL, &base, NULL, NULL, NULL, NULL, NULL);
    }
    off += pc - look;
    if (name != NULL && file != NULL)
        snprintf(buf, n, "%s+0x%llx at %s:%d", name, (unsigned long long)off, file, line);
    else if (name != NULL)
        snprintf(buf, n, "%s+0x%llx in %s", name, (unsigned long long)off, modname != NULL ? modname : "?");
    else if (modname != NULL)
        snprintf(buf, n, "0x%llx in %s+0x%llx", (unsigned long long)pc, modname, (unsigned long long)(pc - base));
    else
        snprintf(buf, n, "0x%llx", (unsigned long long)pc);
}
#endif
