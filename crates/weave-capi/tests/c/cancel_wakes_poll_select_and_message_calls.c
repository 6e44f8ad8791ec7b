/* POSIX lists poll, select, pselect, recvfrom, recvmsg, sendto, sendmsg,
 * readv and writev as cancellation points: a thread waiting in each is
 * woken by pthread_cancel, runs its cleanup handler and ends with
 * PTHREAD_CANCELED; and a request pending when one is called is acted on
 * even with a zero timeout. */
#include "check.h"
#include <poll.h>
#include <sys/select.h>
#include <sys/uio.h>

static int sv[2];
static volatile int cleaned;

static void cleanup(void *arg) {
    (void)arg;
    cleaned++;
}

static void call(int which) {
    char buf[64];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    struct pollfd p = {sv[0], POLLIN, 0};
    fd_set r;
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    switch (which) {
    case 0: poll(&p, 1, -1); break;
    case 1: { struct timespec t = {60, 0}; ppoll(&p, 1, &t, NULL); break; }
    case 2: select(sv[0] + 1, &r, NULL, NULL, NULL); break;
    case 3: { struct timespec t = {60, 0}; pselect(sv[0] + 1, &r, NULL, NULL, &t, NULL); break; }
    case 4: recvfrom(sv[0], buf, sizeof buf, 0, NULL, NULL); break;
    case 5: recvmsg(sv[0], &m, 0); break;
    case 6: readv(sv[0], &iov, 1); break;
    case 7: poll(&p, 1, 0); break; /* zero timeout: pending only */
    }
}

static void *waits(void *arg) {
    pthread_cleanup_push(cleanup, NULL);
    call((int)(intptr_t)arg);
    pthread_cleanup_pop(0);
    return NULL;
}

static volatile int cancelled;

/* Takes the request pending: disabled until main has made it. */
static void *pending(void *arg) {
    int old;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    while (!cancelled) sched_yield();
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    return waits(arg);
}

static char big[1 << 22];

/* Sends more than the socket buffer holds (nobody reads): waits. */
static void *sends(void *arg) {
    struct iovec iov = {big, sizeof big};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    pthread_cleanup_push(cleanup, NULL);
    switch ((int)(intptr_t)arg) {
    case 0: sendto(sv[1], big, sizeof big, 0, NULL, 0); break;
    case 1: sendmsg(sv[1], &m, 0); break;
    case 2: writev(sv[1], &iov, 1); break;
    }
    /* Woken after part was sent, the call returns that count (POSIX lets
     * a transfer that made progress complete); the request is then acted
     * on at the next point. */
    pthread_testcancel();
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 7; i++) {
        pthread_t t;
        int before = cleaned;
        EQ(pthread_create(&t, NULL, waits, (void *)(intptr_t)i), 0);
        wait_blocked_in(t, WEAVE_BLOCK_NET);
        EQ(pthread_cancel(t), 0);
        void *v;
        EQ(pthread_join(t, &v), 0);
        CHECK(v == PTHREAD_CANCELED);
        EQ(cleaned, before + 1);
    }
    /* A request pending at the call is acted on, even with a zero
     * timeout, where nothing waits. */
    for (int i = 0; i < 8; i++) {
        pthread_t t;
        int before = cleaned;
        cancelled = 0;
        EQ(pthread_create(&t, NULL, pending, (void *)(intptr_t)i), 0);
        EQ(pthread_cancel(t), 0);
        cancelled = 1;
        void *v;
        EQ(pthread_join(t, &v), 0);
        CHECK(v == PTHREAD_CANCELED);
        EQ(cleaned, before + 1);
    }
    /* A full send buffer: sendto, sendmsg and writev wait, and are woken. */
    for (int i = 0; i < 3; i++) {
        pthread_t t;
        int before = cleaned;
        EQ(pthread_create(&t, NULL, sends, (void *)(intptr_t)i), 0);
        wait_blocked_in(t, WEAVE_BLOCK_NET);
        EQ(pthread_cancel(t), 0);
        void *v;
        EQ(pthread_join(t, &v), 0);
        CHECK(v == PTHREAD_CANCELED);
        EQ(cleaned, before + 1);
        /* Empty the buffer for the next. */
        char sink[65536];
        while (recv(sv[0], sink, sizeof sink, MSG_DONTWAIT) > 0) {
        }
    }
    return 0;
}
