/* mq_receive, mq_timedreceive, mq_send and mq_timedsend are cancellation
 * points (POSIX): a thread waiting in one (an empty queue, a full one) is
 * woken by pthread_cancel, runs its cleanup handler and ends with
 * PTHREAD_CANCELED, and nothing is taken from or added to the queue; a
 * request pending when one is called is acted on even if it would not
 * wait. */
#include "check.h"
#include <fcntl.h>
#include <mqueue.h>

static mqd_t q;
static volatile int cleaned;

static void cleanup(void *arg) {
    (void)arg;
    cleaned++;
}

static void call(int which) {
    char buf[16];
    struct timespec t = after_ms(CLOCK_REALTIME, 60000);
    switch (which) {
    case 0: mq_receive(q, buf, sizeof buf, NULL); break;
    case 1: mq_timedreceive(q, buf, sizeof buf, NULL, &t); break;
    case 2: mq_send(q, "full", 4, 0); break;
    case 3: mq_timedsend(q, "full", 4, 0, &t); break;
    }
}

static void *waits(void *arg) {
    pthread_cleanup_push(cleanup, NULL);
    call((int)(intptr_t)arg);
    pthread_cleanup_pop(0);
    return NULL;
}

static volatile int requested;

static void *pending(void *arg) {
    int old;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    while (!requested) sched_yield();
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    return waits(arg);
}

static void cancel_and_join(pthread_t t) {
    int before = cleaned;
    EQ(pthread_cancel(t), 0);
    void *v;
    EQ(pthread_join(t, &v), 0);
    CHECK(v == PTHREAD_CANCELED);
    EQ(cleaned, before + 1);
}

static long queued(void) {
    struct mq_attr a;
    EQ(mq_getattr(q, &a), 0);
    return a.mq_curmsgs;
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/weave-cancel-%d", (int)getpid());
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    a.mq_maxmsg = 1;
    a.mq_msgsize = 16;
    q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    CHECK(q != (mqd_t)-1);
    EQ(mq_unlink(name), 0);
    for (int which = 0; which < 4; which++) {
        if (which == 2) EQ(mq_send(q, "msg", 3, 0), 0); /* full from now */
        pthread_t t;
        EQ(pthread_create(&t, NULL, waits, (void *)(intptr_t)which), 0);
#ifdef WEAVE_PTHREAD_H
        wait_blocked_in(t, WEAVE_BLOCK_NET);
#endif
        cancel_and_join(t);
        EQ(queued(), which < 2 ? 0 : 1);
    }
    /* Pending at the call: acted on, with a message there to take. */
    for (int which = 0; which < 2; which++) {
        pthread_t t;
        requested = 0;
        EQ(pthread_create(&t, NULL, pending, (void *)(intptr_t)which), 0);
        EQ(pthread_cancel(t), 0);
        requested = 1;
        void *v;
        EQ(pthread_join(t, &v), 0);
        CHECK(v == PTHREAD_CANCELED);
        EQ(queued(), 1);
    }
    EQ(mq_close(q), 0);
    return 0;
}
