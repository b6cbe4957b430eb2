/* header_test.c — the public header compiles as strict C11 (-pedantic
 * -Wall -Wextra -Werror) and links; header_test_cxx.cc does the same for
 * C++17.  main runs one call from each. */
#include "runtime/gort.h"

int header_test_cxx(void); /* header_test_cxx.cc */

static void nothing(void *arg) { (void)arg; }

int main(void) {
    gort_stats s;
    if (gort_main(nothing, NULL) != 0) return 1;
    gort_stats_get(&s);
    return s.spawned >= 1 && header_test_cxx() == 0 ? 0 : 1;
}
