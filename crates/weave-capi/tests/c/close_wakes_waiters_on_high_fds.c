/* Socket calls on fd numbers past 65,536 (a process may raise its limit of
 * open files, getrlimit(RLIMIT_NOFILE), that far and further) behave as on
 * low ones: a read there blocks only the ULT (one LWP runs the reader and
 * the thread that writes to it), an accept there waits as a ULT for the
 * connection, and close(2) of the fd ends a read blocked on it with EBADF. The soft limit is raised to the hard one; if the hard
 * limit does not allow a number past 65,536, the test runs at the highest
 * number it allows and says so. */
#include "check.h"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int peer;

static void *accepts(void *arg) {
    int fd = *(int *)arg;
    return (void *)(intptr_t)accept(fd, NULL, NULL);
}

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

    /* An accept on a listener at a high number. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EQ(bind(l, (struct sockaddr *)&addr, sizeof addr), 0);
    EQ(listen(l, 4), 0);
    socklen_t alen = sizeof addr;
    EQ(getsockname(l, (struct sockaddr *)&addr, &alen), 0);
    int high_l = high - 1;
    EQ(dup2(l, high_l), high_l);
    EQ(close(l), 0);
    pthread_t ac;
    EQ(pthread_create(&ac, NULL, accepts, &high_l), 0);
    wait_blocked_in(ac, WEAVE_BLOCK_NET);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    EQ(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    void *got;
    EQ(pthread_join(ac, &got), 0);
    CHECK((intptr_t)got >= 0);
    EQ(close((int)(intptr_t)got), 0);
    EQ(close(c), 0);
    EQ(close(high_l), 0);

    /* close ends a read blocked there. */
    struct reader blocked = {high, {0}, -2, 0};
    EQ(pthread_create(&rd, NULL, reads, &blocked), 0);
    wait_blocked_in(rd, WEAVE_BLOCK_NET);
    EQ(close(high), 0);
    EQ(pthread_join(rd, NULL), 0);
    EQ(blocked.n, -1);
    EQ(blocked.err, EBADF);
    EQ(close(sv[1]), 0);
    return 0;
}
