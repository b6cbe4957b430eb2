/*
 * echo.c — a TCP echo server: one goroutine per connection.
 *
 *   echo [-p PORT] [-t THREADS]     listen on 127.0.0.1:PORT (default 7000;
 *                                   0 picks one and prints it) with THREADS
 *                                   Ps (default: every CPU)
 *   echo --selftest                 serve on a free port, run 50 clients
 *                                   against it, then stop by SIGINT
 *
 * SIGINT or SIGTERM stops it cleanly: gort_signal_notify delivers them on
 * a channel (Go's signal.Notify); the goroutine receiving from it closes
 * the listener (which wakes the accept loop with -EBADF) and shuts
 * down every open connection, whose goroutines then see end-of-file and
 * exit; main returns when all are gone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/gort.h"

enum { MAX_CONNS = 65536 };

static int listener = -1;
static gort_chan *stop_signals; /* int: SIGINT or SIGTERM */
static gort_mutex conns_mu = GORT_MUTEX_INIT;
static int conns[MAX_CONNS]; /* open connections, -1 for a free slot */
static gort_waitgroup handlers = GORT_WAITGROUP_INIT;

static void serve_conn(void *arg) {
    int slot = (int)(intptr_t)arg, fd = conns[slot];
    char buf[16384];
    ssize_t n;
    while ((n = gort_read(fd, buf, sizeof buf, -1)) > 0)
        if (gort_write(fd, buf, (size_t)n, -1) != n) break;
    gort_mutex_lock(&conns_mu);
    conns[slot] = -1;
    gort_mutex_unlock(&conns_mu);
    gort_fd_close(fd);
    gort_waitgroup_done(&handlers);
}

/* Wait for SIGINT/SIGTERM, then stop accepting and end every connection. */
static void stopper(void *arg) {
    int sig;
    gort_chan_recv(stop_signals, &sig);
    gort_fd_close(listener);
    gort_mutex_lock(&conns_mu);
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i] >= 0) shutdown(conns[i], SHUT_RDWR); /* its goroutine closes it */
    gort_mutex_unlock(&conns_mu);
}

static int listen_on(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4096) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return gort_fd_open(fd) == 0 ? fd : -EBADF;
}

static int port_of(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

/* Accept until the listener is closed. */
static void serve(void) {
    for (;;) {
        int c = gort_accept(listener, NULL, NULL, -1);
        if (c < 0) break; /* -EBADF: stopping */
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        gort_mutex_lock(&conns_mu);
        int slot = 0;
        while (slot < MAX_CONNS && conns[slot] >= 0) slot++;
        if (slot < MAX_CONNS) conns[slot] = c;
        gort_mutex_unlock(&conns_mu);
        if (slot == MAX_CONNS) {
            gort_fd_close(c);
            continue;
        }
        gort_waitgroup_add(&handlers, 1);
        gort_go(serve_conn, (void *)(intptr_t)slot);
    }
    gort_waitgroup_wait(&handlers);
}

/* --selftest: 50 clients x 20 messages, every byte checked, then SIGINT. */
static int selftest_failures;
static gort_waitgroup clients = GORT_WAITGROUP_INIT;

static void client(void *arg) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(intptr_t)arg)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (gort_connect(fd, (struct sockaddr *)&a, sizeof a, 5000000000) != 0) {
        __atomic_add_fetch(&selftest_failures, 1, __ATOMIC_RELAXED);
    } else {
        for (int i = 0; i < 20; i++) {
            char out[64], in[64];
            size_t got = 0;
            memset(out, 'a' + i, sizeof out);
            if (gort_write(fd, out, sizeof out, -1) != (ssize_t)sizeof out) break;
            while (got < sizeof in) {
                ssize_t n = gort_read(fd, in + got, sizeof in - got, -1);
                if (n <= 0) break;
                got += (size_t)n;
            }
            if (got != sizeof in || memcmp(in, out, sizeof in) != 0) {
                __atomic_add_fetch(&selftest_failures, 1, __ATOMIC_RELAXED);
                break;
            }
        }
    }
    gort_fd_close(fd);
    gort_waitgroup_done(&clients);
}

static void selftest_driver(void *arg) {
    for (int i = 0; i < 50; i++) {
        gort_waitgroup_add(&clients, 1);
        gort_go(client, arg);
    }
    gort_waitgroup_wait(&clients);
    raise(SIGINT); /* the same path as a user's ^C */
}

static void root(void *arg) {
    bool selftest = arg != NULL;
    gort_go(stopper, NULL);
    if (selftest) gort_go(selftest_driver, (void *)(intptr_t)port_of(listener));
    serve();
}

int main(int argc, char **argv) {
    int port = 7000, threads = 0, selftest = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--selftest") == 0)
            selftest = 1, port = 0;
        else {
            fprintf(stderr, "usage: %s [-p PORT] [-t THREADS] [--selftest]\n", argv[0]);
            return 2;
        }
    }
    gort_config cfg = {threads, 0};
    if (gort_init(&cfg) != 0) return 1;
    memset(conns, -1, sizeof conns);
    if ((stop_signals = gort_chan_make(sizeof(int), 1)) == NULL || gort_signal_notify(SIGINT, stop_signals) != 0 ||
        gort_signal_notify(SIGTERM, stop_signals) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    if ((listener = listen_on(port)) < 0) {
        fprintf(stderr, "echo: cannot listen on port %d: %s\n", port, strerror(-listener));
        return 1;
    }
    printf("echo: listening on 127.0.0.1:%d with %d threads\n", port_of(listener), gort_maxprocs(0));
    fflush(stdout);
    gort_main(root, selftest ? (void *)1 : NULL);
    printf("echo: stopped cleanly\n");
    if (selftest && selftest_failures != 0) {
        fprintf(stderr, "echo: %d self-test clients failed\n", selftest_failures);
        return 1;
    }
    return 0;
}
