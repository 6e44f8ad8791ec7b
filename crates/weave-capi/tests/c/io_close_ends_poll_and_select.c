/* close() of an fd that another thread waits on in poll, ppoll, select or
 * pselect. POSIX leaves the outcome unspecified; Linux keeps the call
 * waiting (the file stays open until it returns). weave ends the wait, as
 * it ends a read, recv or accept on that fd with EBADF, and answers as
 * the call would answer if made after the close: poll and ppoll report
 * POLLNVAL for the closed fd (POSIX: "the specified fd value is
 * invalid"), counted in the result; select and pselect fail with EBADF
 * ("one or more of the file descriptor sets specified a file descriptor
 * that is not a valid open file descriptor"). The closed number is not
 * asked about again: a new socket that takes the number, with data
 * waiting, is not reported in its place.
 *
 * Without weave (glibc's threads) only what does not depend on a
 * concurrent close is checked: the answers of the calls made after it. */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>

#ifdef WEAVE_PTHREAD_H
static int fd;

static void *waits(void *arg) {
    int which = (int)(intptr_t)arg;
    struct pollfd p = {fd, POLLIN, 0};
    fd_set r;
    FD_ZERO(&r);
    FD_SET(fd, &r);
    struct timespec ts = {60, 0};
    errno = 0;
    switch (which) {
    case 0:
        EQ(poll(&p, 1, -1), 1);
        EQ(p.revents, POLLNVAL);
        break;
    case 1:
        EQ(ppoll(&p, 1, &ts, NULL), 1);
        EQ(p.revents, POLLNVAL);
        break;
    case 2:
        EQ(select(fd + 1, &r, NULL, NULL, NULL), -1);
        EQ(errno, EBADF);
        CHECK(FD_ISSET(fd, &r)); /* left as passed */
        break;
    case 3:
        EQ(pselect(fd + 1, &r, NULL, NULL, &ts, NULL), -1);
        EQ(errno, EBADF);
        CHECK(FD_ISSET(fd, &r));
        break;
    }
    return NULL;
}

#endif

/* Polls a closed fd and an open one that is ready: both reported. The
 * closed number is a high one, which nothing else in the process takes
 * while the test looks at it: the lowest free number may be taken by
 * another thread at any time (weave's monitor reads /proc now and then,
 * and a /proc file is always readable). */
static void after_close(void) {
    int sv[2], ov[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, ov), 0);
    EQ(write(ov[1], "x", 1), 1);
    int high = fcntl(sv[0], F_DUPFD_CLOEXEC, 512);
    CHECK(high >= 512);
    EQ(close(sv[0]), 0);
    sv[0] = high;
    EQ(close(sv[0]), 0);
    struct pollfd p[2] = {{sv[0], POLLIN, 0}, {ov[0], POLLIN, 0}};
    EQ(poll(p, 2, 1000), 2);
    EQ(p[0].revents, POLLNVAL);
    EQ(p[1].revents, POLLIN);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    struct timeval tv = {1, 0};
    EQ(select(sv[0] + 1, &r, NULL, NULL, &tv), -1);
    EQ(errno, EBADF);
    EQ(close(sv[1]), 0);
    EQ(close(ov[0]), 0);
    EQ(close(ov[1]), 0);
}

static void *after_close_thread(void *arg) {
    (void)arg;
    after_close();
    return NULL;
}

int main(void) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, after_close_thread, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
#ifdef WEAVE_PTHREAD_H
    EQ(pthread_setconcurrency(1), 0);
    for (int round = 0; round < 5; round++) {
        for (int which = 0; which < 4; which++) {
            int sv[2];
            EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
            fd = sv[0];
            EQ(pthread_create(&t, NULL, waits, (void *)(intptr_t)which), 0);
            wait_blocked_in(t, WEAVE_BLOCK_NET);
            EQ(close(sv[0]), 0);
            /* The number again, with data waiting: not the waiter's. */
            int nv[2];
            pair_with_end_at(nv, sv[0]);
            EQ(write(nv[1], "y", 1), 1);
            EQ(pthread_join(t, NULL), 0);
            EQ(close(nv[0]), 0);
            EQ(close(nv[1]), 0);
            EQ(close(sv[1]), 0);
        }
    }
#endif
    return 0;
}
