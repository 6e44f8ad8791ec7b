/* poll()'s answer on a thread, from the POSIX page: POLLOUT for a socket
 * with room, POLLHUP when the peer has gone (here while the thread
 * waits), POLLNVAL for an fd that is not open, a negative fd ignored
 * (revents 0), a regular file always ready for reading and writing, and
 * 0 with every revents cleared when the timeout passes. With one LWP the
 * thread that closes the peer runs while the poller waits. */
#include "check.h"
#include <fcntl.h>
#include <poll.h>

static int sv[2];
static volatile int stage;

static void *checks(void *arg) {
    (void)arg;
    /* Room to write: ready at once, even with no timeout. */
    struct pollfd w = {sv[0], POLLOUT, -1};
    EQ(poll(&w, 1, -1), 1);
    EQ(w.revents, POLLOUT);

    /* A closed fd number, a negative fd, a regular file. */
    char path[] = "/tmp/weave-poll-XXXXXX";
    int file = mkstemp(path);
    CHECK(file >= 0);
    unlink(path);
    int gone = dup(sv[0]);
    EQ(close(gone), 0);
    struct pollfd p[3] = {{gone, POLLIN, -1}, {-1, POLLIN, -1}, {file, POLLIN | POLLOUT, -1}};
    EQ(poll(p, 3, 1000), 2);
    EQ(p[0].revents, POLLNVAL);
    EQ(p[1].revents, 0);
    EQ(p[2].revents, POLLIN | POLLOUT);
    EQ(close(file), 0);

    /* Nothing comes: 0 after the timeout, revents cleared. */
    struct pollfd r = {sv[0], POLLIN, -1};
    EQ(poll(&r, 1, 30), 0);
    EQ(r.revents, 0);

    /* The peer goes while we wait: POLLHUP (and POLLIN: end of file). */
    r.revents = -1;
    stage = 1;
    EQ(poll(&r, 1, -1), 1);
    CHECK(r.revents & POLLHUP);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, checks, NULL), 0);
    /* Close only once the thread waits with no timeout (its poll with
     * a timeout returned 0 first). */
    while (!stage) sched_yield();
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(close(sv[1]), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
