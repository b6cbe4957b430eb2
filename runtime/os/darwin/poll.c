/*
 * poll.c — darwin poller: one kqueue, each descriptor under EVFILT_READ and
 * EVFILT_WRITE with EV_CLEAR (edge-triggered), and an EVFILT_USER event
 * that gort_os_poll_break triggers to end a blocking wait; a plain thread's
 * wake handle is a pipe (darwin has no eventfd).  Contract: os.h ("the
 * poller"); kevent per <sys/event.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/os/os.h"

static int kq = -1;
#define BREAK_IDENT 0x676f7274 /* "gort" */

GORT_RUNTIME_TEXT int gort_os_poll_init(void) {
    struct kevent ev;
    if ((kq = kqueue()) < 0) return -errno;
    fcntl(kq, F_SETFD, FD_CLOEXEC);
    EV_SET(&ev, BREAK_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    return kevent(kq, &ev, 1, NULL, 0, NULL) == 0 ? 0 : -errno;
}

GORT_RUNTIME_TEXT int gort_os_poll_add(int fd, uint64_t key) {
    struct kevent ev[2];
    EV_SET(&ev[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, (void *)(uintptr_t)key);
    EV_SET(&ev[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, (void *)(uintptr_t)key);
    if (kevent(kq, ev, 2, NULL, 0, NULL) != 0) return errno == EINVAL ? -EPERM : -errno;
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_poll_del(int fd) {
    struct kevent ev[2];
    EV_SET(&ev[0], fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    EV_SET(&ev[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    kevent(kq, ev, 2, NULL, 0, NULL);
}

GORT_RUNTIME_TEXT int gort_os_poll_wait(int64_t ns, void (*ready)(uint64_t, int, void *), void *arg) {
    struct kevent evs[128];
    if (ns > (int64_t)1000000 * 1000000000) ns = (int64_t)1000000 * 1000000000; /* kevent: EINVAL beyond ~1e8 s */
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    int n = kevent(kq, NULL, 0, evs, 128, ns < 0 ? NULL : &ts);
    if (n < 0) return 0; /* EINTR: the caller looks again */
    int events = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].filter == EVFILT_USER) { /* a break: meant for a blocking wait */
            if (ns == 0) gort_os_poll_break(); /* EV_CLEAR consumed it: pass it on */
            continue;
        }
        int modes = evs[i].filter == EVFILT_READ ? GORT_POLL_READ : GORT_POLL_WRITE;
        if (evs[i].flags & (EV_EOF | EV_ERROR)) modes = GORT_POLL_READ | GORT_POLL_WRITE;
        ready((uint64_t)(uintptr_t)evs[i].udata, modes, arg);
        events++;
    }
    return events;
}

GORT_RUNTIME_TEXT void gort_os_poll_break(void) {
    struct kevent ev;
    EV_SET(&ev, BREAK_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    int saved = errno; /* a park's action may get here: keep the goroutine's (os.h) */
    kevent(kq, &ev, 1, NULL, 0, NULL);
    errno = saved;
}

GORT_RUNTIME_TEXT int gort_os_wake_open(gort_os_wake *w) {
    int p[2];
    if (pipe(p) != 0) return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
    }
    w->rfd = p[0];
    w->wfd = p[1];
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_wake_signal(const gort_os_wake *w) {
    char one = 1; /* non-blocking: a full pipe is signalled already */
    while (write(w->wfd, &one, 1) < 0 && errno == EINTR) {
    }
}

GORT_RUNTIME_TEXT void gort_os_wake_close(gort_os_wake *w) {
    close(w->rfd);
    close(w->wfd);
    w->rfd = w->wfd = -1;
}
