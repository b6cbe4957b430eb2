/*
 * fd.c — descriptor helpers, POSIX (linux and darwin).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"

GORT_NOPREEMPT int gort_os_set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    return 0;
}

/* The usual way (as libcurl, git): block, write, and if the write raised
 * SIGPIPE (it was not already pending), consume it before unblocking.
 * Runtime code is never preempted (text.h), so the thread cannot change
 * between the two masks. */
GORT_NOPREEMPT ssize_t gort_os_write_nosigpipe(int fd, const void *buf, size_t n) {
    sigset_t pipe, old, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t r = write(fd, buf, n);
    int err = errno;
    if (r < 0 && err == EPIPE && !was_pending) {
#if defined(__linux__)
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {
        }
#else
        int sig;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) sigwait(&pipe, &sig);
#endif
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return r;
}

GORT_NOPREEMPT int gort_os_poll_fd(int fd, int modes, const gort_os_wake *w, int64_t ns) {
    struct pollfd p[2] = {{fd, (short)((modes & GORT_POLL_READ ? POLLIN : 0) | (modes & GORT_POLL_WRITE ? POLLOUT : 0)), 0},
                          {w != NULL ? w->rfd : -1, POLLIN, 0}};
    /* poll counts milliseconds: round up, so a wait never ends early. */
    int ms = ns < 0 ? -1 : ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX : (int)((ns + 999999) / 1000000);
    int n = poll(p, w != NULL ? 2 : 1, ms);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    if (p[0].revents & POLLNVAL) return -EBADF;
    return p[0].revents != 0 ? 1 : 0;
}
