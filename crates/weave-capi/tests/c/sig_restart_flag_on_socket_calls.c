/* SA_RESTART on a created thread's socket calls, which block only the
 * thread under weave: without the flag, a read or an accept that a
 * handler interrupts fails with EINTR (nothing read); with it, the read
 * goes on and returns the data written after the handler ran. */
#include "check.h"

#include <netinet/in.h>

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
}

struct acceptor {
    int fd, r, err;
};

static void *accepts(void *arg) {
    struct acceptor *a = arg;
    a->r = accept(a->fd, NULL, NULL);
    a->err = errno;
    return NULL;
}

int main(void) {
    int sv[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

    /* Without SA_RESTART: the blocked read fails with EINTR. */
    install(0);
    struct reader r = {sv[0], {0}, -2, 0};
    pthread_t t;
    EQ(pthread_create(&t, NULL, reads, &r), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(r.n, -1);
    EQ(r.err, EINTR);
    EQ(handled, 1);

    /* With SA_RESTART: it goes on and gets what is written after. */
    install(SA_RESTART);
    struct reader r2 = {sv[0], {0}, -2, 0};
    EQ(pthread_create(&t, NULL, reads, &r2), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(pthread_kill(t, SIGUSR1), 0);
    while (handled < 2) sched_yield();
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(write(sv[1], "ok", 2), 2);
    EQ(pthread_join(t, NULL), 0);
    EQ(r2.n, 2);
    CHECK(memcmp(r2.got, "ok", 2) == 0);

    /* accept, without SA_RESTART: EINTR. */
    install(0);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    EQ(listen(l, 1), 0);
    struct acceptor ac = {l, -2, 0};
    EQ(pthread_create(&t, NULL, accepts, &ac), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(ac.r, -1);
    EQ(ac.err, EINTR);
    EQ(handled, 3);
    return 0;
}
