/*
 * fd.c — descriptor helpers, POSIX (linux and darwin).
 */
#include <errno.h>
#include <fcntl.h>

#include "runtime/os/os.h"

GORT_NOPREEMPT int gort_os_set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    return 0;
}
