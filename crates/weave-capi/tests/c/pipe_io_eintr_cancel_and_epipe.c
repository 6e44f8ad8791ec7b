/* A thread blocked in read(2) or write(2) on a pipe, against the POSIX
 * pages of read, write, sigaction and pthread_cancel:
 * - a handler installed without SA_RESTART ends the wait: read fails with
 *   EINTR, and a write "interrupted by a signal after it successfully
 *   writes some data ... shall return the number of bytes written"; with
 *   SA_RESTART the read goes on and gets the data written after;
 * - read and write are cancellation points: a request ends the wait and
 *   the thread ends with PTHREAD_CANCELED (a write that wrote part
 *   returns that count first, as one a signal interrupts);
 * - "An attempt is made to write to a pipe or FIFO that is not open for
 *   reading by any process ... A SIGPIPE signal shall also be sent to the
 *   thread": with SIGPIPE ignored, EPIPE, also for a writer that was
 *   waiting for room when the last reader closed.
 * All on one LWP. */
#include "check.h"
#include <signal.h>

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
}

#define BIG (256 * 1024)

struct writer {
    int fd;
    ssize_t n;
    int err;
};

static void *writes(void *arg) {
    struct writer *w = arg;
    static char big[BIG];
    w->n = write(w->fd, big, BIG);
    w->err = errno;
    return NULL;
}

static void *reads_forever(void *arg) {
    char c;
    read(*(int *)arg, &c, 1);
    return (void *)1; /* not reached: cancelled */
}

/* A write cancelled after part of it returns that count (as one a signal
 * interrupts), with the request still pending: the next write acts on
 * it. */
static void *writes_forever(void *arg) {
    static char big[BIG];
    for (;;) write(*(int *)arg, big, BIG);
    return (void *)1; /* not reached: cancelled */
}

#ifdef WEAVE_PTHREAD_H
#define WAIT_BLOCKED(t) wait_blocked_in(t, WEAVE_BLOCK_NET)
#else
#define WAIT_BLOCKED(t) wait_blocked(t)
#endif

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    int p[2];
    EQ(pipe(p), 0);
    pthread_t t;

    /* Without SA_RESTART: the blocked read fails with EINTR. */
    install(0);
    struct reader r = {p[0], {0}, -2, 0};
    EQ(pthread_create(&t, NULL, reads, &r), 0);
    WAIT_BLOCKED(t);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(r.n, -1);
    EQ(r.err, EINTR);
    EQ(handled, 1);

    /* With SA_RESTART: it goes on and gets what is written after. */
    install(SA_RESTART);
    struct reader r2 = {p[0], {0}, -2, 0};
    EQ(pthread_create(&t, NULL, reads, &r2), 0);
    WAIT_BLOCKED(t);
    EQ(pthread_kill(t, SIGUSR1), 0);
    while (handled < 2) sched_yield();
    WAIT_BLOCKED(t);
    EQ(write(p[1], "ok", 2), 2);
    EQ(pthread_join(t, NULL), 0);
    EQ(r2.n, 2);
    CHECK(memcmp(r2.got, "ok", 2) == 0);

    /* A write larger than the pipe, interrupted without SA_RESTART once
     * it waits for room: the count of what it wrote. */
    install(0);
    struct writer w = {p[1], -2, 0};
    EQ(pthread_create(&t, NULL, writes, &w), 0);
    WAIT_BLOCKED(t);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);
    CHECK(w.n > 0 && w.n < BIG);
    EQ(handled, 3);
    /* Take it all back: the pipe is empty again. */
    static char sink[BIG];
    for (ssize_t left = w.n; left > 0;) {
        ssize_t n = read(p[0], sink, (size_t)left);
        CHECK(n > 0);
        left -= n;
    }

    /* Cancelled while reading an empty pipe, and while writing to a full
     * one. */
    void *v;
    EQ(pthread_create(&t, NULL, reads_forever, &p[0]), 0);
    WAIT_BLOCKED(t);
    EQ(pthread_cancel(t), 0);
    EQ(pthread_join(t, &v), 0);
    CHECK(v == PTHREAD_CANCELED);
    EQ(pthread_create(&t, NULL, writes_forever, &p[1]), 0);
    WAIT_BLOCKED(t);
    EQ(pthread_cancel(t), 0);
    EQ(pthread_join(t, &v), 0);
    CHECK(v == PTHREAD_CANCELED);
    EQ(close(p[0]), 0);
    EQ(close(p[1]), 0);

    /* EPIPE: a writer waiting for room when the reader goes, and a write
     * after. */
    EQ(signal(SIGPIPE, SIG_IGN) == SIG_ERR, 0);
    EQ(pipe(p), 0);
    struct writer w2 = {p[1], -2, 0};
    EQ(pthread_create(&t, NULL, writes, &w2), 0);
    WAIT_BLOCKED(t);
    EQ(close(p[0]), 0);
    EQ(pthread_join(t, NULL), 0);
    /* It had written part: that count (Linux); or nothing: EPIPE. */
    CHECK((w2.n > 0 && w2.n < BIG) || (w2.n == -1 && w2.err == EPIPE));
    EQ(write(p[1], "x", 1), -1);
    EQ(errno, EPIPE);
    EQ(close(p[1]), 0);
    return 0;
}
