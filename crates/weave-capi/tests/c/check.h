/* Shared by the C tests: checks that print the failing line and exit 1.
 * Each test program checks one behaviour, written from the POSIX page of
 * the functions it calls; tests/c_programs.rs compiles and runs it. */
#ifndef WEAVE_TEST_CHECK_H
#define WEAVE_TEST_CHECK_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #c);                                                     \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

#define EQ(a, b)                                                             \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_) {                                                      \
            fprintf(stderr, "%s:%d: %s is %lld, expected %s (%lld)\n",       \
                    __FILE__, __LINE__, #a, a_, #b, b_);                     \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* The time `ms` milliseconds from now on `clock`, as an abstime. */
static inline struct timespec after_ms(clockid_t clock, long ms) {
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

#ifdef WEAVE_PTHREAD_H /* weave's tables: not there when a test is built
                         * against the system's threads to compare. */
/* Waits (yielding) until weave's thread table shows `t` blocked with
 * `reason` (a WEAVE_BLOCK_* value): the test then knows the thread is
 * inside that wait, not on its way to it. */
static inline void wait_blocked_in(pthread_t t, int reason) {
    static weave_thread_info rows[4096];
    for (;;) {
        size_t n = weave_thread_table(rows, 4096);
        for (size_t i = 0; i < n && i < 4096; i++)
            if (pthread_equal(rows[i].id, t) && rows[i].state == WEAVE_THREAD_BLOCKED &&
                rows[i].block_reason == reason)
                return;
        sched_yield();
    }
}

/* Waits (yielding) until weave's thread table shows `t` blocked, for
 * whatever reason. */
static inline void wait_blocked(pthread_t t) {
    static weave_thread_info rows[4096];
    for (;;) {
        size_t n = weave_thread_table(rows, 4096);
        for (size_t i = 0; i < n && i < 4096; i++)
            if (pthread_equal(rows[i].id, t) && rows[i].state == WEAVE_THREAD_BLOCKED) return;
        sched_yield();
    }
}
#else
/* Built against the system's threads, to compare: no table to read, a
 * pause stands in (such a build is not part of the test suite). */
#define wait_blocked(t) ((void)(t), usleep(300000))
#endif

/* A thread body that reads once from `fd` into `got` (for tests of
 * socket reads): `n` is read's result, `err` errno after it. */
struct reader {
    int fd;
    char got[8];
    ssize_t n;
    int err;
};

static inline void *reads(void *arg) {
    struct reader *r = arg;
    r->n = read(r->fd, r->got, sizeof r->got);
    r->err = errno;
    return NULL;
}

/* A new socket pair with one end at `number`, the lowest free fd, in
 * sv[0] (tests of fd-number reuse). Another thread of the process (weave's
 * monitor reads /proc now and then) may hold a lower number, or this one,
 * for a moment: then the pair's other end may have it, or the pair goes
 * back and is made again. A number that close did not free never comes
 * back, and the check fails after 1,000 tries. */
static inline void pair_with_end_at(int sv[2], int number) {
    for (int tries = 0;; tries++) {
        EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        if (sv[0] == number) return;
        if (sv[1] == number) {
            sv[1] = sv[0];
            sv[0] = number;
            return;
        }
        if (tries == 1000) EQ(sv[0], number);
        EQ(close(sv[0]), 0);
        EQ(close(sv[1]), 0);
        sched_yield();
    }
}

#endif
