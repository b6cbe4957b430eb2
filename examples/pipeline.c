/*
 * pipeline.c — a channel pipeline over files: read -> transform -> write.
 *
 *   pipeline IN OUT        copy IN to OUT, upper-casing ASCII letters
 *   pipeline --selftest    run it on a generated file and check the result
 *
 * Three goroutines joined by buffered channels of chunk pointers: a reader
 * (gort_read), a transformer, and a writer (gort_write).  Regular files
 * cannot be polled: gort_read/gort_write run them between
 * gort_syscall_enter/exit, so a slow disk blocks one thread, not the Ps.
 * A NULL chunk ends the stream; an error is reported and ends it too.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/gort.h"

enum { CHUNK = 64 << 10, DEPTH = 8 };

typedef struct chunk {
    size_t len;
    char data[CHUNK];
} chunk;

typedef struct pipeline {
    int in, out;
    gort_chan *raw, *done; /* chunk * */
    int error;             /* first -errno, or 0 */
    gort_waitgroup wg;
} pipeline;

static void reader(void *arg) {
    pipeline *pl = arg;
    for (;;) {
        chunk *c = malloc(sizeof *c);
        ssize_t n = c != NULL ? gort_read(pl->in, c->data, CHUNK, -1) : -ENOMEM;
        if (n <= 0) {
            if (n < 0) pl->error = (int)n;
            free(c);
            break;
        }
        c->len = (size_t)n;
        gort_chan_send(pl->raw, &c);
    }
    chunk *end = NULL;
    gort_chan_send(pl->raw, &end);
    gort_waitgroup_done(&pl->wg);
}

static void transformer(void *arg) {
    pipeline *pl = arg;
    chunk *c;
    do {
        gort_chan_recv(pl->raw, &c);
        for (size_t i = 0; c != NULL && i < c->len; i++) c->data[i] = (char)toupper((unsigned char)c->data[i]);
        gort_chan_send(pl->done, &c);
    } while (c != NULL);
    gort_waitgroup_done(&pl->wg);
}

static void writer(void *arg) {
    pipeline *pl = arg;
    chunk *c;
    for (;;) {
        gort_chan_recv(pl->done, &c);
        if (c == NULL) break;
        ssize_t n = gort_write(pl->out, c->data, c->len, -1);
        if (n < 0 && pl->error == 0) pl->error = (int)n;
        free(c);
    }
    gort_waitgroup_done(&pl->wg);
}

static void run(void *arg) {
    pipeline *pl = arg;
    gort_waitgroup_add(&pl->wg, 3);
    gort_go(reader, pl);
    gort_go(transformer, pl);
    gort_go(writer, pl);
    gort_waitgroup_wait(&pl->wg);
}

/* 0 or -errno. */
static int copy_upper(const char *in, const char *out) {
    pipeline pl = {.error = 0, .wg = GORT_WAITGROUP_INIT};
    if ((pl.in = open(in, O_RDONLY)) < 0) return -errno;
    if ((pl.out = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
        int err = -errno;
        close(pl.in);
        return err;
    }
    pl.raw = gort_chan_make(sizeof(chunk *), DEPTH);
    pl.done = gort_chan_make(sizeof(chunk *), DEPTH);
    gort_main(run, &pl);
    gort_chan_free(pl.raw);
    gort_chan_free(pl.done);
    gort_fd_close(pl.in);
    gort_fd_close(pl.out);
    return pl.error;
}

static int selftest(void) {
    char in[] = "/tmp/gort_pipeline_in_XXXXXX", out[] = "/tmp/gort_pipeline_out_XXXXXX";
    int fd = mkstemp(in), ofd = mkstemp(out), ok = 1;
    size_t size = 3 * CHUNK + 12345;
    char *data = malloc(size), *back = malloc(size + 1);
    for (size_t i = 0; i < size; i++) data[i] = "abcxyz ABC\n"[i % 11];
    ok = fd >= 0 && ofd >= 0 && data && back && write(fd, data, size) == (ssize_t)size;
    close(fd);
    close(ofd);
    ok = ok && copy_upper(in, out) == 0;
    fd = open(out, O_RDONLY);
    ok = ok && fd >= 0 && read(fd, back, size + 1) == (ssize_t)size;
    for (size_t i = 0; ok && i < size; i++) ok = back[i] == (char)toupper((unsigned char)data[i]);
    if (fd >= 0) close(fd);
    unlink(in);
    unlink(out);
    free(data);
    free(back);
    printf("pipeline: self-test %s\n", ok ? "passed" : "FAILED");
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--selftest") == 0) return selftest();
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN OUT | --selftest\n", argv[0]);
        return 2;
    }
    int err = copy_upper(argv[1], argv[2]);
    if (err != 0) fprintf(stderr, "pipeline: %s\n", strerror(-err));
    return err != 0;
}
