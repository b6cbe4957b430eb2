/*
 * env.c — settings from the environment, read once at start-up.
 *
 *   GORT_MAXPROCS=n       number of Ps (default: the CPUs this process may use)
 *   GORT_STACK_SIZE=bytes default goroutine stack (suffix k/K or m/M allowed)
 *   GORT_DEBUG=a=1,b=2    debug knobs (gort_debug in runtime.h):
 *       stackguard=0      no guard pages: every stack is canary-checked
 *       asyncpreemptoff=1 no preemption signals: a goroutine is preempted
 *                         only when it enters the runtime (always so under
 *                         ThreadSanitizer: see gort_env_parse)
 *       schedtrace=MS     one line of scheduler state on stderr every MS ms
 *       deadlock=0        never report "all goroutines are asleep"
 *       blockwarn=MS      one line on stderr when a goroutine has been
 *                         blocked in a foreign call for MS ms (preempt.c)
 * Malformed values are ignored, with one line on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/runtime.h"
#include "runtime/core/tsan.h"

gort_debug gort_debug_g = {.stackguard = 1, .deadlock = 1};

GORT_RUNTIME_TEXT static void warn(const char *name, const char *value) {
    char line[160];
    int n = snprintf(line, sizeof line, "gort: ignoring %s=%s\n", name, value);
    if (n > 0) gort_os_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* A non-negative integer with an optional k/m suffix; -1 if malformed. */
GORT_RUNTIME_TEXT static long long parse_size(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    if (*end == 'k' || *end == 'K') v <<= 10, end++;
    else if (*end == 'm' || *end == 'M') v <<= 20, end++;
    return *end == 0 ? v : -1;
}

GORT_RUNTIME_TEXT static void parse_debug(const char *list) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        long long v = eq ? parse_size(eq + 1) : -1;
        if (eq != NULL) *eq = 0;
        if (v >= 0 && strcmp(item, "stackguard") == 0)
            gort_debug_g.stackguard = (int)v;
        else if (v >= 0 && strcmp(item, "asyncpreemptoff") == 0)
            gort_debug_g.asyncpreemptoff = (int)v;
        else if (v >= 0 && v <= 3600000 && strcmp(item, "schedtrace") == 0)
            gort_debug_g.schedtrace = (int)v;
        else if (v >= 0 && strcmp(item, "deadlock") == 0)
            gort_debug_g.deadlock = (int)v;
        else if (v >= 0 && v <= 3600000 && strcmp(item, "blockwarn") == 0)
            gort_debug_g.blockwarn = (int)v;
        else {
            char line[160];
            if (eq != NULL) *eq = '='; /* the item as written */
            int n = snprintf(line, sizeof line, "gort: ignoring GORT_DEBUG item \"%s\"\n", item);
            if (n > 0) gort_os_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        }
    }
}

GORT_RUNTIME_TEXT void gort_env_parse(gort_config *cfg) {
    const char *s;
    if ((s = getenv("GORT_MAXPROCS")) != NULL && *s) {
        long long v = parse_size(s);
        if (v >= 1 && v <= GORT_MAXPROCS_LIMIT)
            cfg->maxprocs = (int)v;
        else
            warn("GORT_MAXPROCS", s);
    }
    if ((s = getenv("GORT_STACK_SIZE")) != NULL && *s) {
        long long v = parse_size(s);
        if (v >= (long long)GORT_STACK_MIN && v <= (long long)GORT_STACK_MAX)
            cfg->stack_size = (size_t)v;
        else
            warn("GORT_STACK_SIZE", s);
    }
    if ((s = getenv("GORT_DEBUG")) != NULL && *s) parse_debug(s);
#if defined(GORT_TSAN)
    /* ThreadSanitizer delivers an asynchronous signal late: its own
     * handler queues it, and ours runs at the thread's next intercepted
     * call (or blocking point), maybe in another goroutine's fiber, with
     * a copy of the context.  A call injected into that copy never runs,
     * and one injected in the wrong place would be worse: under TSan,
     * preemption is cooperative only, whatever GORT_DEBUG says. */
    gort_debug_g.asyncpreemptoff = 1;
#endif
}
