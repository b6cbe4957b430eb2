/*
 * text.c — linux: where the runtime's code and the program's code lie,
 * for the preemption handler's "is this pc user code?" (os.h).
 *
 * The runtime's code is the gort_text section (text.h); the linker marks
 * its bounds with __start_gort_text / __stop_gort_text in whichever object
 * (the executable, or libgort.so) holds it.  The program's code is every
 * executable segment of the objects loaded at start-up, minus the system
 * ones, whose code takes locks (malloc) or is the loader or the vdso.
 * Libraries loaded later with dlopen are not known: code there is never
 * preempted asynchronously (cooperatively it still is).  The runtime is
 * built with -fno-plt, so its calls into libc never pass through PLT
 * stubs, which lie in the executable's code.
 */
#include <link.h>
#include <string.h>

#include "runtime/os/os.h"

extern const char __start_gort_text[] __attribute__((visibility("hidden")));
extern const char __stop_gort_text[] __attribute__((visibility("hidden")));

enum { MAX_RANGES = 64 };
static struct { uintptr_t lo, hi; } user_text[MAX_RANGES];
static int n_user_text;

/* Objects whose code must not be interrupted by a goroutine switch. */
static const char *const system_objects[] = {
    "ld-linux", "ld64.so", "linux-vdso", "linux-gate", "libc.so", "libc-", "libm.so", "libm-",
    "libpthread", "libdl", "librt", "libgcc_s", "libstdc++", "libasan", "libtsan", "liblsan",
    "libubsan", "libgort", "libresolv", "libnss_", "libunwind",
};

GORT_RUNTIME_TEXT static bool is_system(const char *path) {
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    for (size_t i = 0; i < sizeof system_objects / sizeof system_objects[0]; i++)
        if (strncmp(base, system_objects[i], strlen(system_objects[i])) == 0) return true;
    return false;
}

GORT_RUNTIME_TEXT static int add_object(struct dl_phdr_info *info, size_t size, void *first) {
    /* The first object is the executable (its name is empty). */
    bool main_program = *(bool *)first;
    *(bool *)first = false;
    if (!main_program && (info->dlpi_name == NULL || info->dlpi_name[0] == 0 || is_system(info->dlpi_name)))
        return 0;
    for (int i = 0; i < info->dlpi_phnum && n_user_text < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        user_text[n_user_text].lo = info->dlpi_addr + ph->p_vaddr;
        user_text[n_user_text].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        n_user_text++;
    }
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_text_init(void) {
    bool first = true;
    n_user_text = 0;
    dl_iterate_phdr(add_object, &first);
}

GORT_RUNTIME_TEXT bool gort_os_pc_is_runtime(uintptr_t pc) {
    return pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text;
}

GORT_RUNTIME_TEXT bool gort_os_pc_is_user(uintptr_t pc) {
    if (gort_os_pc_is_runtime(pc)) return false;
    for (int i = 0; i < n_user_text; i++)
        if (pc >= user_text[i].lo && pc < user_text[i].hi) return true;
    return false;
}
