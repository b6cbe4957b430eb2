/* io.c — an echo goroutine on one end of a socketpair, a client on the other. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "runtime/gort.h"

#define MS (1000 * 1000LL)
static gort_chan *done;

static void echo(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[256];
    ssize_t n;
    while ((n = gort_read(fd, buf, sizeof buf, -1)) > 0) /* parks until data; 0 at EOF */
        if (gort_write(fd, buf, (size_t)n, -1) != n) break;
    gort_fd_close(fd); /* not close(): gort registered fd */
    gort_chan_close(done);
}

static void root(void *arg) {
    int sv[2], *ok = arg;
    char buf[16] = {0};
    ssize_t got = 0, n;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || (done = gort_chan_make(0, 0)) == NULL) return;
    gort_fd_open(sv[0]); /* non-blocking, registered with the poller */
    gort_go(echo, (void *)(intptr_t)sv[1]);
    *ok = gort_write(sv[0], "hello", 5, -1) == 5; /* all 5 bytes, or a negative errno */
    while (got < 5 && (n = gort_read(sv[0], buf + got, sizeof buf - 1 - got, 1000 * MS)) > 0) got += n;
    printf("echoed \"%s\"\n", buf);
    *ok &= strcmp(buf, "hello") == 0 && gort_read(sv[0], buf, sizeof buf, 10 * MS) == -ETIMEDOUT;
    gort_fd_close(sv[0]);                           /* the echo goroutine reads EOF ... */
    *ok &= gort_chan_recv(done, NULL) == -EPIPE;    /* ... and closes done */
    gort_chan_free(done);
}

int main(void) {
    int ok = 0;
    return gort_main(root, &ok) == 0 && ok ? 0 : 1;
}
