/*
 * fd.c — descriptors, POSIX (linux and darwin): what is the same on both
 * of the operations netpoll makes; what differs (accept4, MSG_NOSIGNAL,
 * SO_NOSIGPIPE, taking back a SIGPIPE) is in os/<os>/system.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"
#include "runtime/os/sys.h"

/* Set O_NONBLOCK (os/<os>/system.c's gort_os_fd_prepare). */
GORT_RUNTIME_TEXT int gort_os_set_nonblock(int fd) {
    int fl = sys_fcntl(fd, F_GETFL, 0);
    if (fl < 0) return -errno;
    if (!(fl & O_NONBLOCK) && sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    return 0;
}

GORT_RUNTIME_TEXT int gort_os_fd_stat(int fd, gort_os_fd_info *out) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -errno;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    out->pollable = !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
    int fl = sys_fcntl(fd, F_GETFL, 0);
    out->nonblocking = fl >= 0 && (fl & O_NONBLOCK);
    return 0;
}

GORT_RUNTIME_TEXT ssize_t gort_os_read(int fd, void *buf, size_t n) {
    ssize_t r = sys_read(fd, buf, n);
    return r >= 0 ? r : -errno;
}

GORT_RUNTIME_TEXT int gort_os_connect(int fd, const struct sockaddr *sa, socklen_t len) {
    return sys_connect(fd, sa, len) == 0 ? 0 : -errno;
}

GORT_RUNTIME_TEXT int gort_os_connect_result(int fd) {
    int so = 0;
    socklen_t sl = sizeof so;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0) return -errno;
    if (so == 0) { /* writable and no error: connected, unless the edge was stale */
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) return 0;
        return errno == ENOTCONN ? -EINPROGRESS : -errno;
    }
    return so == EINPROGRESS || so == EALREADY || so == EINTR ? -EINPROGRESS : -so;
}

GORT_RUNTIME_TEXT int gort_os_close(int fd) { return sys_close(fd) == 0 ? 0 : -errno; }

/* The usual way (as libcurl, git): block, write, and if the write raised
 * SIGPIPE (it was not already pending), consume it before unblocking.
 * Runtime code is never preempted (text.h), so the thread cannot change
 * between the two masks. */
GORT_RUNTIME_TEXT ssize_t gort_os_write_nosigpipe(int fd, const void *buf, size_t n) {
    sigset_t pipe, old, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t r = sys_write(fd, buf, n);
    int err = errno;
    if (r < 0 && err == EPIPE && !was_pending) gort_os_sigpipe_drop();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r >= 0 ? r : -err;
}

GORT_RUNTIME_TEXT int gort_os_poll_fd(int fd, int modes, const gort_os_wake *w, int64_t ns) {
    struct pollfd p[2] = {{fd, (short)((modes & GORT_POLL_READ ? POLLIN : 0) | (modes & GORT_POLL_WRITE ? POLLOUT : 0)), 0},
                          {w != NULL ? w->rfd : -1, POLLIN, 0}};
    /* poll counts milliseconds: round up, so a wait never ends early. */
    int ms = ns < 0 ? -1 : ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX : (int)((ns + 999999) / 1000000);
    int n = sys_poll(p, w != NULL ? 2 : 1, ms);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    if (p[0].revents & POLLNVAL) return -EBADF;
    return p[0].revents != 0 ? 1 : 0;
}
