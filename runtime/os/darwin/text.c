/*
 * text.c — darwin: where the runtime's code and the program's code lie,
 * for the preemption handler's "is this pc user code?" (os.h).
 *
 * The runtime's code is the __TEXT,__gort_text section (text.h) of the
 * image that holds it (the executable, or a dylib), found with dladdr and
 * getsectiondata.  The program's code is the __TEXT segment of the main
 * executable (image 0); every dylib, libSystem included, counts as system
 * code and is never interrupted.
 */
#include <dlfcn.h>
#include <mach-o/dyld.h>

#include "runtime/os/os.h"

/* <mach-o/getsect.h> (libmacho, part of libSystem); the zig SDK used to
 * build here lacks the header, so the two prototypes are repeated. */
struct mach_header_64;
extern uint8_t *getsectiondata(const struct mach_header_64 *mhp, const char *segname, const char *sectname,
                               unsigned long *size);
extern uint8_t *getsegmentdata(const struct mach_header_64 *mhp, const char *segname, unsigned long *size);

static uintptr_t rt_lo, rt_hi, user_lo, user_hi;
/* The main image's stub sections: the runtime's calls into libSystem pass
 * through them, so they are not user code. */
static struct { uintptr_t lo, hi; } stubs[3];

GORT_RUNTIME_TEXT void gort_os_text_init(void) {
    Dl_info info;
    unsigned long size = 0;
    uint8_t *p;

    if (dladdr((const void *)gort_os_text_init, &info) != 0 && info.dli_fbase != NULL) {
        p = getsectiondata((const struct mach_header_64 *)info.dli_fbase, "__TEXT", "__gort_text", &size);
        if (p != NULL) rt_lo = (uintptr_t)p, rt_hi = (uintptr_t)p + size;
    }
    const struct mach_header *main_header = _dyld_get_image_header(0);
    if (main_header != NULL) {
        p = getsegmentdata((const struct mach_header_64 *)main_header, "__TEXT", &size);
        if (p != NULL) user_lo = (uintptr_t)p, user_hi = (uintptr_t)p + size;
        static const char *const names[3] = {"__stubs", "__stub_helper", "__auth_stubs"};
        for (int i = 0; i < 3; i++) {
            p = getsectiondata((const struct mach_header_64 *)main_header, "__TEXT", names[i], &size);
            if (p != NULL) stubs[i].lo = (uintptr_t)p, stubs[i].hi = (uintptr_t)p + size;
        }
    }
}

GORT_RUNTIME_TEXT bool gort_os_pc_is_runtime(uintptr_t pc) { return pc >= rt_lo && pc < rt_hi; }

GORT_RUNTIME_TEXT bool gort_os_pc_is_user(uintptr_t pc) {
    if (rt_lo == rt_hi) return false; /* runtime bounds unknown: never preempt */
    if (pc >= rt_lo && pc < rt_hi) return false;
    for (int i = 0; i < 3; i++)
        if (pc >= stubs[i].lo && pc < stubs[i].hi) return false;
    return pc >= user_lo && pc < user_hi;
}
