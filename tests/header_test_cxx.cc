// header_test_cxx.cc — gort.h compiles as C++17 with -pedantic -Wall
// -Wextra -Werror (see header_test.c).
#include "runtime/gort.h"

extern "C" int header_test_cxx(void) {
  gort_mutex mu = GORT_MUTEX_INIT;
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  gort_sema sem = GORT_SEMA_INIT(1);
  if (gort_mutex_lock(&mu) != 0 || gort_mutex_unlock(&mu) != 0) return 1;
  if (gort_waitgroup_wait(&wg) != 0) return 1;
  if (gort_sema_acquire(&sem) != 0) return 1;
  return gort_sema_release(&sem);
}
