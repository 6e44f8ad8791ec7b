/* close(2) of a socket that another thread is blocked reading: weave ends
 * the reader's call with -1 and EBADF (the fd is no longer a valid file
 * descriptor open for reading), so that it does not wait for ever on a
 * file that is gone, and the fd number is safe to reuse at once: a new
 * socket at that number, read by a new blocked thread, gets its data.
 * Same for a thread blocked in accept. */
#include "check.h"

#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

static void *accepts(void *arg) {
    int *fd = arg;
    return (void *)(intptr_t)accept(*fd, NULL, NULL);
}

int main(void) {
    for (int round = 0; round < 20; round++) {
        int sv[2];
        EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        struct reader old = {sv[0], {0}, -2, 0};
        pthread_t t;
        EQ(pthread_create(&t, NULL, reads, &old), 0);
        wait_blocked_in(t, WEAVE_BLOCK_NET);
        EQ(close(sv[0]), 0);
        EQ(pthread_join(t, NULL), 0);
        EQ(old.n, -1);
        EQ(old.err, EBADF);

        /* The number comes back, and a reader blocked on the new socket
         * there is woken by its data. */
        int nv[2];
        pair_with_end_at(nv, sv[0]);
        struct reader now = {nv[0], {0}, -2, 0};
        EQ(pthread_create(&t, NULL, reads, &now), 0);
        wait_blocked_in(t, WEAVE_BLOCK_NET);
        EQ(write(nv[1], "pong", 4), 4);
        EQ(pthread_join(t, NULL), 0);
        EQ(now.n, 4);
        CHECK(memcmp(now.got, "pong", 4) == 0);
        EQ(close(nv[0]), 0);
        EQ(close(nv[1]), 0);
        EQ(close(sv[1]), 0);
    }

    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    EQ(listen(l, 4), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, accepts, &l), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(close(l), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    EQ((intptr_t)r, -1);
    return 0;
}
