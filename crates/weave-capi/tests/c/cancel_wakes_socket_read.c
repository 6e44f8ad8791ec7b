/* read on a socket is a cancellation point: a thread waiting for data is
 * woken by pthread_cancel and ends with PTHREAD_CANCELED; its cleanup
 * handler runs. */
#include "check.h"
#include <sys/socket.h>
#include <unistd.h>

static int sv[2];
static volatile int cleaned;

static void cleanup(void *arg) { (void)arg; cleaned = 1; }

static void *reader(void *arg) {
    (void)arg;
    char buf[8];
    pthread_cleanup_push(cleanup, NULL);
    for (;;)
        read(sv[0], buf, sizeof buf);
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void) {
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pthread_t r;
    EQ(pthread_create(&r, NULL, reader, NULL), 0);
    wait_blocked_in(r, WEAVE_BLOCK_NET);
    EQ(pthread_cancel(r), 0);
    void *v;
    EQ(pthread_join(r, &v), 0);
    CHECK(v == PTHREAD_CANCELED);
    EQ(cleaned, 1);
    return 0;
}
