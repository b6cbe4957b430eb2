/*
 * entries.h — the hooks that may park, each an assembly entry (the libc
 * name) in front of its C body (hook_NAME in hooks.c).  X(name) per hook;
 * each takes at most six arguments, all in registers.
 */
#define HOOK_ENTRIES(X)                                                                                                \
    X(read) X(write) X(readv) X(writev) X(recv) X(recvfrom) X(recvmsg) X(send) X(sendto) X(sendmsg) X(accept)           \
    X(accept4) X(connect) X(poll) X(ppoll) X(select) X(nanosleep) X(usleep) X(sleep) X(close) X(getaddrinfo)          \
    X(pselect) X(epoll_wait) X(epoll_pwait) X(clock_nanosleep) X(__read_chk) X(__recv_chk) X(__poll_chk)                \
    X(__ppoll_chk)
