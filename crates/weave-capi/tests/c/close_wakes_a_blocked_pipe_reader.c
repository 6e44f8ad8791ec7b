/* close(2) of a pipe's read end that another thread is blocked reading:
 * under weave the reader's call ends at once with -1 and EBADF (read(2):
 * "fildes is not a valid file descriptor open for reading"), as for a
 * socket, instead of waiting on a file that is gone (Linux would keep it
 * blocked, holding the pipe open). So does a writer blocked on a full
 * pipe whose write end is closed. A pipe made after works. One LWP. */
#include "check.h"

static void *writes_big(void *arg) {
    static char big[256 * 1024];
    int fd = *(int *)arg;
    ssize_t n = write(fd, big, sizeof big);
    /* Some was written before the pipe was full: that count. */
    CHECK(n > 0 && n < (ssize_t)sizeof big);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    int p[2];
    EQ(pipe(p), 0);
    struct reader r = {p[0], {0}, -2, 0};
    pthread_t t;
    EQ(pthread_create(&t, NULL, reads, &r), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(close(p[0]), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(r.n, -1);
    EQ(r.err, EBADF);

    /* The write end still works, and nobody reads it: EPIPE. */
    EQ(signal(SIGPIPE, SIG_IGN) == SIG_ERR, 0);
    EQ(write(p[1], "x", 1), -1);
    EQ(errno, EPIPE);
    EQ(close(p[1]), 0);

    /* A new pipe works; its writer, blocked on a full pipe, gets the
     * count it wrote when its end is closed. */
    EQ(pipe(p), 0);
    EQ(pthread_create(&t, NULL, writes_big, &p[1]), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(close(p[1]), 0);
    EQ(pthread_join(t, NULL), 0);
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    EQ(close(p[0]), 0);
    return 0;
}
