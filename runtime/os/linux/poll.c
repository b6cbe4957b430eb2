/*
 * poll.c — linux poller: one edge-triggered epoll instance, and an eventfd
 * in it that gort_os_poll_break writes to end a blocking wait; a plain
 * thread's wake handle is an eventfd of its own.  Contract: os.h ("the
 * poller").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/os/os.h"
#include "runtime/os/sys.h"

static int epfd = -1, breakfd = -1;
static _Atomic(uint32_t) break_pending; /* one write until the wait drains it */

#define BREAK_KEY UINT64_MAX

GORT_RUNTIME_TEXT int gort_os_poll_init(void) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BREAK_KEY};
    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) return -errno;
    if ((breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) return -errno;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) != 0) return -errno;
    return 0;
}

GORT_RUNTIME_TEXT int gort_os_poll_add(int fd, uint64_t key) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = key};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
    if (errno == EEXIST && epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0) return 0; /* re-key it */
    return -errno;
}

GORT_RUNTIME_TEXT void gort_os_poll_del(int fd) {
    struct epoll_event ev = {0};
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

GORT_RUNTIME_TEXT int gort_os_poll_wait(int64_t ns, void (*ready)(uint64_t, int, void *), void *arg) {
    struct epoll_event evs[128];
    /* epoll counts milliseconds: round a wait up, so it never ends early. */
    int ms = ns < 0 ? -1 : ns == 0 ? 0 : ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX : (int)((ns + 999999) / 1000000);
    int n = epoll_wait(epfd, evs, 128, ms);
    if (n < 0) return 0; /* EINTR: the caller looks again */
    int events = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == BREAK_KEY) {
            /* Only a blocking wait consumes a break: it is meant for the
             * sleeper, and the eventfd stays readable until drained. */
            if (ns != 0) {
                uint64_t v;
                while (sys_read(breakfd, &v, sizeof v) < 0 && errno == EINTR) {
                }
                atomic_store(&break_pending, 0);
            }
            continue;
        }
        uint32_t e = evs[i].events;
        int modes = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) modes |= GORT_POLL_READ;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) modes |= GORT_POLL_WRITE;
        ready(evs[i].data.u64, modes, arg);
        events++;
    }
    return events;
}

GORT_RUNTIME_TEXT void gort_os_poll_break(void) {
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&break_pending, &zero, 1)) return;
    uint64_t one = 1;
    int saved = errno; /* a park's action may get here: keep the goroutine's */
    while (sys_write(breakfd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    errno = saved;
}

GORT_RUNTIME_TEXT int gort_os_wake_open(gort_os_wake *w) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return -errno;
    w->rfd = w->wfd = fd;
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_wake_signal(const gort_os_wake *w) {
    uint64_t one = 1; /* never blocks: non-blocking, and far from the counter's limit */
    while (sys_write(w->wfd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

GORT_RUNTIME_TEXT void gort_os_wake_close(gort_os_wake *w) {
    sys_close(w->rfd);
    w->rfd = w->wfd = -1;
}
