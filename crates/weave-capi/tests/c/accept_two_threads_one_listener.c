/* accept(2) from two threads on one blocking listening socket, on two
 * LWPs: each connection goes to one of them, and the one that did not get
 * the first connection waits as a ULT (blocked in weave's tables), not in
 * the kernel's accept on its LWP (where the tables would show it running
 * until the next connection, and this program would never see it
 * blocked: the watchdog fails it). Both wake for the one connection, on
 * their two LWPs at once if they can: that race is what this looks for. */
#include "check.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener;
static struct sockaddr_in addr;

static void *accepts(void *arg) {
    (void)arg;
    int c = accept(listener, NULL, NULL);
    CHECK(c >= 0);
    char b;
    EQ(read(c, &b, 1), 1);
    EQ(close(c), 0);
    return (void *)(intptr_t)b;
}

static void *connects(void *arg) {
    char b = (char)(intptr_t)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    EQ(connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    EQ(write(s, &b, 1), 1);
    return (void *)(intptr_t)s;
}

int main(void) {
    EQ(pthread_setconcurrency(2), 0);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EQ(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t len = sizeof addr;
    EQ(getsockname(listener, (struct sockaddr *)&addr, &len), 0);
    EQ(listen(listener, 8), 0);

    for (int round = 0; round < 200; round++) {
        pthread_t a, b, c;
        EQ(pthread_create(&a, NULL, accepts, NULL), 0);
        EQ(pthread_create(&b, NULL, accepts, NULL), 0);
        wait_blocked(a);
        wait_blocked(b);
        void *s1, *s2, *ra, *rb;
        EQ(pthread_create(&c, NULL, connects, (void *)(intptr_t)'x'), 0);
        EQ(pthread_join(c, &s1), 0);
        /* One of them takes it; the other must be seen waiting again. */
        pthread_t other;
        for (;;) {
            if (pthread_tryjoin_np(a, &ra) == 0) {
                other = b;
                break;
            }
            if (pthread_tryjoin_np(b, &ra) == 0) {
                other = a;
                break;
            }
            sched_yield();
        }
        EQ((intptr_t)ra, 'x');
        wait_blocked(other);
        EQ(pthread_create(&c, NULL, connects, (void *)(intptr_t)'y'), 0);
        EQ(pthread_join(c, &s2), 0);
        EQ(pthread_join(other, &rb), 0);
        EQ((intptr_t)rb, 'y');
        EQ(close((int)(intptr_t)s1), 0);
        EQ(close((int)(intptr_t)s2), 0);
    }
    return 0;
}
