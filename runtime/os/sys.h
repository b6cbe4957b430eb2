/*
 * sys.h — the system calls of the OS layer that a program may interpose
 * (runtime/hooks replaces libc's read, write, close, poll, connect,
 * accept4, send and nanosleep to park goroutines through the runtime, and
 * fcntl to keep the program's O_NONBLOCK apart from the runtime's).
 *
 * Invariant: the runtime never runs through a hook.  On linux these enter
 * the kernel directly (syscall(2)), so a hook that calls into the runtime
 * cannot come back into itself, and a program's own interposer never sees
 * the runtime's wakeups and probes.  Under ThreadSanitizer (gcc's libtsan)
 * the descriptor calls are its interceptors, named (__interceptor_read):
 * they too go straight to libc, past any hook, and they carry what TSan
 * knows of a descriptor (a write to a pipe happens before the read that
 * gets its bytes), so a program's data handed over through gort_read is no
 * false race.  On darwin, where the hooks do not apply, they are libc's.
 * Each returns what libc's does: the result, or -1 with errno set.  Only
 * the OS layer includes this header.
 */
#ifndef GORT_OS_SYS_H
#define GORT_OS_SYS_H

#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define GORT_SYS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_SYS_TSAN 1
#endif
#endif

#if defined(__linux__) && defined(GORT_SYS_TSAN)
#include <sys/syscall.h>

ssize_t __interceptor_read(int fd, void *buf, size_t n);
ssize_t __interceptor_write(int fd, const void *buf, size_t n);
int __interceptor_close(int fd);
int __interceptor_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __interceptor_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
ssize_t __interceptor_send(int fd, const void *buf, size_t n, int flags);
int __interceptor_poll(struct pollfd *p, nfds_t n, int ms);
int __interceptor_nanosleep(const struct timespec *ts, struct timespec *rem);
#define sys_read __interceptor_read
#define sys_write __interceptor_write
#define sys_close __interceptor_close
#define sys_connect __interceptor_connect
#define sys_accept4 __interceptor_accept4
#define sys_send __interceptor_send
#define sys_poll __interceptor_poll
#define sys_nanosleep __interceptor_nanosleep
static inline int sys_fcntl(int fd, int cmd, long arg) { return (int)syscall(SYS_fcntl, fd, cmd, arg); }
#elif defined(__linux__)
#include <sys/syscall.h>

static inline ssize_t sys_read(int fd, void *buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
static inline ssize_t sys_write(int fd, const void *buf, size_t n) { return syscall(SYS_write, fd, buf, n); }
static inline int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
static inline int sys_connect(int fd, const struct sockaddr *sa, socklen_t len) {
    return (int)syscall(SYS_connect, fd, sa, len);
}
static inline int sys_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags) {
    return (int)syscall(SYS_accept4, fd, sa, len, flags);
}
static inline ssize_t sys_send(int fd, const void *buf, size_t n, int flags) {
    return syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}
/* poll(2) is ppoll on arm64 (there is no poll system call there). */
static inline int sys_poll(struct pollfd *p, nfds_t n, int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    return (int)syscall(SYS_ppoll, p, n, ms < 0 ? NULL : &ts, NULL, (size_t)8);
}
static inline int sys_nanosleep(const struct timespec *ts, struct timespec *rem) {
    return (int)syscall(SYS_nanosleep, ts, rem);
}
static inline int sys_fcntl(int fd, int cmd, long arg) { return (int)syscall(SYS_fcntl, fd, cmd, arg); }
#else
#define sys_read read
#define sys_write write
#define sys_close close
#define sys_connect connect
#define sys_send send
#define sys_poll poll
#define sys_nanosleep nanosleep
#define sys_fcntl fcntl
#endif

#endif /* GORT_OS_SYS_H */
