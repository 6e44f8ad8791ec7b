/* select(): "shall modify the objects pointed to by the readfds,
 * writefds, and errorfds arguments to indicate which file descriptors are
 * ready", blocking until one is or the timeout passes (then the sets are
 * empty and it returns 0); a descriptor that is not open is EBADF. With
 * one LWP, the thread that makes a socket readable runs while another
 * waits in select, and pselect behaves alike. */
#include "check.h"
#include <fcntl.h>
#include <sys/select.h>

static int sv[2], pp[2];
static volatile int stage;

static void *selects(void *arg) {
    (void)arg;
    fd_set r, w;
    /* Nothing ready: 0 after the timeout, sets emptied. */
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    FD_SET(pp[0], &r);
    struct timeval tv = {0, 20000};
    EQ(select(FD_SETSIZE, &r, NULL, NULL, &tv), 0);
    CHECK(!FD_ISSET(sv[0], &r) && !FD_ISSET(pp[0], &r));
    EQ(tv.tv_sec, 0);
    EQ(tv.tv_usec, 0);

    /* Ready at once for writing; a pipe end not ready is cleared. */
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(pp[0], &r);
    FD_SET(sv[0], &w);
    EQ(select(FD_SETSIZE, &r, &w, NULL, NULL), 1);
    CHECK(!FD_ISSET(pp[0], &r) && FD_ISSET(sv[0], &w));

    /* A closed fd: EBADF. A high number, which no other thread of the
     * process takes meanwhile (the lowest free one may be: weave's
     * monitor reads /proc now and then). */
    int gone = fcntl(sv[0], F_DUPFD_CLOEXEC, 512);
    CHECK(gone >= 512);
    EQ(close(gone), 0);
    FD_ZERO(&r);
    FD_SET(gone, &r);
    tv.tv_sec = 5;
    EQ(select(gone + 1, &r, NULL, NULL, &tv), -1);
    EQ(errno, EBADF);

    /* Waits (only this thread) until the other writes the socket. */
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    FD_SET(pp[0], &r);
    stage = 1;
    EQ(select(FD_SETSIZE, &r, NULL, NULL, NULL), 1);
    CHECK(FD_ISSET(sv[0], &r) && !FD_ISSET(pp[0], &r));
    char c;
    EQ(read(sv[0], &c, 1), 1);

    /* pselect, the same way. */
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    FD_SET(pp[0], &r);
    struct timespec ts = {30, 0};
    stage = 2;
    EQ(pselect(FD_SETSIZE, &r, NULL, NULL, &ts, NULL), 1);
    CHECK(!FD_ISSET(sv[0], &r) && FD_ISSET(pp[0], &r));
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    EQ(pipe(pp), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, selects, NULL), 0);
    while (stage != 1) sched_yield();
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(write(sv[1], "x", 1), 1);
    while (stage != 2) sched_yield();
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(write(pp[1], "y", 1), 1);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
