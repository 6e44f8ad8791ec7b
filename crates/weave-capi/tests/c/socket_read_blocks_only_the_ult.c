/* A read on a socket with no data blocks only the calling thread: with
 * one LWP, another thread still runs while the reader waits, and its
 * write wakes the reader with the data. (If the read blocked the LWP, the
 * writer could never run, and the program would hang.) */
#include "check.h"
#include <sys/socket.h>
#include <unistd.h>

static int sv[2];

static void *reader(void *arg) {
    (void)arg;
    char buf[8] = {0};
    EQ(read(sv[0], buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    return NULL;
}

static void *writer(void *r) {
    wait_blocked_in(*(pthread_t *)r, WEAVE_BLOCK_NET);
    EQ(write(sv[1], "hello", 5), 5);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pthread_t r, w;
    EQ(pthread_create(&r, NULL, reader, NULL), 0);
    EQ(pthread_create(&w, NULL, writer, &r), 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(pthread_join(r, NULL), 0);
    return 0;
}
