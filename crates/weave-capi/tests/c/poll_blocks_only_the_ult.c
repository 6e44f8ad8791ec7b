/* poll(): "shall block until at least one of the events requested
 * occurs". Under weave only the calling thread blocks: with one LWP,
 * another thread runs while one waits in poll on a socket and a pipe with
 * no timeout, and its write to the pipe ends the wait with POLLIN on the
 * pipe only. (If poll blocked the LWP, the writer never ran: a hang.) */
#include "check.h"
#include <poll.h>

static int sv[2], pp[2];

static void *poller(void *arg) {
    (void)arg;
    struct pollfd p[2] = {{sv[0], POLLIN, -1}, {pp[0], POLLIN, -1}};
    EQ(poll(p, 2, -1), 1);
    EQ(p[0].revents, 0);
    EQ(p[1].revents, POLLIN);
    return NULL;
}

static void *writer(void *t) {
    wait_blocked_in(*(pthread_t *)t, WEAVE_BLOCK_NET);
    EQ(write(pp[1], "x", 1), 1);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    EQ(pipe(pp), 0);
    pthread_t p, w;
    EQ(pthread_create(&p, NULL, poller, NULL), 0);
    EQ(pthread_create(&w, NULL, writer, &p), 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(pthread_join(p, NULL), 0);
    return 0;
}
