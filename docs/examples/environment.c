/* environment.c — GORT_MAXPROCS sets the number of Ps; gort_maxprocs changes it. */
#include <stdio.h>
#include <stdlib.h>
#include "runtime/gort.h"

int main(void) {
    const char *env = getenv("GORT_MAXPROCS");
    int n = gort_maxprocs(0); /* 0 queries (and starts the runtime, reading the environment) */
    printf("GORT_MAXPROCS=%s: %d Ps\n", env != NULL ? env : "(unset)", n);
    if (n < 1 || (env != NULL && n != atoi(env))) return 1;

    int prev = gort_maxprocs(2); /* sets, at once; returns the previous value */
    gort_stats st;
    gort_stats_get(&st);
    printf("after gort_maxprocs(2): %d Ps\n", (int)st.procs);
    return prev == n && gort_maxprocs(0) == 2 && st.procs == 2 ? 0 : 1;
}
