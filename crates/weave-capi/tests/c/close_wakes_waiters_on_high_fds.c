/* Socket calls on fd numbers past 65,536 (a process may raise its limit of
 * open files, getrlimit(RLIMIT_NOFILE), that far and further) behave as on
 * low ones: a read there blocks only the ULT (one LWP runs the reader and
 * the thread that writes to it), and close(2) of the fd ends a read blocked
 * on it with EBADF. The soft limit is raised to the hard one; if the hard
 * limit does not allow a number past 65,536, the test runs at the highest
 * number it allows and says so. */
#include "check.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int peer;

static void *writes_later(void *arg) {
    pthread_t reader = *(pthread_t *)arg;
    wait_blocked_in(reader, WEAVE_BLOCK_NET);
    EQ(write(peer, "high", 4), 4);
    return NULL;
}

int main(void) {
    struct rlimit lim;
    EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    lim.rlim_cur = lim.rlim_max;
    EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int high = 100000;
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max <= (rlim_t)high) {
        high = (int)lim.rlim_max - 1;
        if (high <= 65536)
            printf("note: hard RLIMIT_NOFILE %llu allows no fd past 65536; ran at fd %d\n",
                   (unsigned long long)lim.rlim_max, high);
    }
    EQ(pthread_setconcurrency(1), 0);

    int sv[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    EQ(dup2(sv[0], high), high);
    EQ(close(sv[0]), 0);
    peer = sv[1];

    /* Blocks only the ULT: the writer runs on the same LWP. */
    struct reader r = {high, {0}, -2, 0};
    pthread_t rd, wr;
    EQ(pthread_create(&rd, NULL, reads, &r), 0);
    EQ(pthread_create(&wr, NULL, writes_later, &rd), 0);
    EQ(pthread_join(rd, NULL), 0);
    EQ(pthread_join(wr, NULL), 0);
    EQ(r.n, 4);
    CHECK(memcmp(r.got, "high", 4) == 0);

    /* close ends a read blocked there. */
    struct reader c = {high, {0}, -2, 0};
    EQ(pthread_create(&rd, NULL, reads, &c), 0);
    wait_blocked_in(rd, WEAVE_BLOCK_NET);
    EQ(close(high), 0);
    EQ(pthread_join(rd, NULL), 0);
    EQ(c.n, -1);
    EQ(c.err, EBADF);
    EQ(close(sv[1]), 0);
    return 0;
}
