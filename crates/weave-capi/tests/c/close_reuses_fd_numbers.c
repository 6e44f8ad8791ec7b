/* close(2): the fd number is free again at once, and the lowest free
 * number is the one a new socket gets (POSIX: "the lowest numbered file
 * descriptor not currently open"). Sockets made at reused numbers work:
 * a thread that blocks in read on each one gets the data written to it,
 * round after round, while other fds come and go around it. */
#include "check.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket pair at the numbers `want`, the lowest free ones. Another
 * thread of the process (weave's monitor reads /proc now and then) may
 * hold one of them for a moment: then the pair goes back and is made
 * again. A number that close did not free would never come back. */
static void pair_at(int sv[2], const int want[2]) {
    for (int tries = 0;; tries++) {
        EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        if (sv[0] == want[0] && sv[1] == want[1]) return;
        if (tries == 1000) {
            EQ(sv[0], want[0]);
            EQ(sv[1], want[1]);
        }
        EQ(close(sv[0]), 0);
        EQ(close(sv[1]), 0);
        sched_yield();
    }
}

int main(void) {
    int first[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, first), 0);
    EQ(close(first[0]), 0);
    EQ(close(first[1]), 0);
    for (int round = 0; round < 200; round++) {
        int sv[2];
        /* The numbers just closed are the lowest free ones. */
        pair_at(sv, first);
        struct reader r = {sv[0], {0}, -2, 0};
        pthread_t t;
        EQ(pthread_create(&t, NULL, reads, &r), 0);
        /* Inside its wait (registered with weave's reactor) before the
         * data comes, on most rounds; on the others it reads at once. */
        if (round % 2 == 0) wait_blocked_in(t, WEAVE_BLOCK_NET);
        /* An fd that comes and goes meanwhile. */
        int extra[2];
        EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, extra), 0);
        EQ(close(extra[0]), 0);
        EQ(close(extra[1]), 0);
        EQ(write(sv[1], "ping", 4), 4);
        EQ(pthread_join(t, NULL), 0);
        EQ(r.n, 4);
        CHECK(memcmp(r.got, "ping", 4) == 0);
        EQ(close(sv[0]), 0);
        EQ(close(sv[1]), 0);
    }
    /* Closed: not open (asked without closing it again, which could close
     * a file another thread holds there for a moment). */
    int tries = 0;
    while (fcntl(first[0], F_GETFD) != -1 && tries++ < 1000) sched_yield();
    EQ(fcntl(first[0], F_GETFD), -1);
    EQ(errno, EBADF);
    return 0;
}
