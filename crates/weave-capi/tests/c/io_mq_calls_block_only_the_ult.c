/* POSIX message queues in blocking mode: mq_receive on an empty queue
 * "shall block until a message is enqueued", mq_send on a full one
 * "until sufficient space becomes available"; only the calling thread
 * waits, so with one LWP the thread that sends or receives runs while
 * another waits. mq_timedreceive and mq_timedsend fail with ETIMEDOUT
 * once abs_timeout (CLOCK_REALTIME) passes, and with EINVAL for a bad
 * one when they would block (POSIX lets a call that need not wait skip
 * the check; Linux always checks), and with EFAULT (Linux) for one that
 * cannot be read; a queue opened with O_NONBLOCK gets EAGAIN at once. */
#include "check.h"
#include <fcntl.h>
#include <mqueue.h>

static mqd_t q;

static void *receives(void *arg) {
    (void)arg;
    char buf[16];
    unsigned prio = 0;
    EQ(mq_receive(q, buf, sizeof buf, &prio), 3);
    CHECK(memcmp(buf, "one", 3) == 0);
    EQ(prio, 7);
    return NULL;
}

static void *sends_to_full(void *arg) {
    (void)arg;
    EQ(mq_send(q, "three", 5, 1), 0);
    return NULL;
}

static mqd_t open_queue(const char *tag, int flags, long max) {
    char name[64];
    snprintf(name, sizeof name, "/weave-%s-%d", tag, (int)getpid());
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    a.mq_maxmsg = max;
    a.mq_msgsize = 16;
    mqd_t m = mq_open(name, O_RDWR | O_CREAT | O_EXCL | flags, 0600, &a);
    CHECK(m != (mqd_t)-1);
    EQ(mq_unlink(name), 0);
    return m;
}

/* On a created thread, so that with one LWP the waiting thread and the
 * one that sends or receives share it. */
static void *run(void *arg) {
    (void)arg;
    q = open_queue("mq", 0, 1);
    /* A receiver waits; this thread (or, with one LWP, the next one to
     * run there) sends. */
    pthread_t r, s;
    EQ(pthread_create(&r, NULL, receives, NULL), 0);
    sched_yield();
    EQ(mq_send(q, "one", 3, 7), 0);
    EQ(pthread_join(r, NULL), 0);

    /* Full queue: the sender waits until a receive makes room. */
    EQ(mq_send(q, "two", 3, 1), 0);
    EQ(pthread_create(&s, NULL, sends_to_full, NULL), 0);
    sched_yield();
    char buf[16];
    EQ(mq_receive(q, buf, sizeof buf, NULL), 3);
    EQ(pthread_join(s, NULL), 0);
    EQ(mq_receive(q, buf, sizeof buf, NULL), 5);
    CHECK(memcmp(buf, "three", 5) == 0);

    /* Timed: ETIMEDOUT once the time passes; EINVAL only if it would
     * block. */
    struct timespec soon = after_ms(CLOCK_REALTIME, 20);
    errno = 0;
    EQ(mq_timedreceive(q, buf, sizeof buf, NULL, &soon), -1);
    EQ(errno, ETIMEDOUT);
    struct timespec bad = {0, 2000000000L};
    errno = 0;
    EQ(mq_timedreceive(q, buf, sizeof buf, NULL, &bad), -1);
    EQ(errno, EINVAL);
    soon = after_ms(CLOCK_REALTIME, 20);
    EQ(mq_timedsend(q, "x", 1, 0, &soon), 0); /* room: sent */
    soon = after_ms(CLOCK_REALTIME, 20);
    errno = 0;
    EQ(mq_timedsend(q, "y", 1, 0, &soon), -1); /* full */
    EQ(errno, ETIMEDOUT);
    errno = 0;
    EQ(mq_timedsend(q, "y", 1, 0, &bad), -1);
    EQ(errno, EINVAL);
    /* A timeout that cannot be read: EFAULT (Linux), never a crash. */
    errno = 0;
    EQ(mq_timedsend(q, "y", 1, 0, (const struct timespec *)8), -1);
    EQ(errno, EFAULT);
    EQ(mq_timedreceive(q, buf, sizeof buf, NULL, &soon), 1);
    errno = 0;
    EQ(mq_timedreceive(q, buf, sizeof buf, NULL, (const struct timespec *)8), -1);
    EQ(errno, EFAULT);
    EQ(mq_close(q), 0);

    /* A non-blocking queue: EAGAIN at once. */
    mqd_t nb = open_queue("mqnb", O_NONBLOCK, 1);
    errno = 0;
    EQ(mq_receive(nb, buf, sizeof buf, NULL), -1);
    EQ(errno, EAGAIN);
    EQ(mq_send(nb, "a", 1, 0), 0);
    errno = 0;
    EQ(mq_send(nb, "b", 1, 0), -1);
    EQ(errno, EAGAIN);
    EQ(mq_close(nb), 0);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, run, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
