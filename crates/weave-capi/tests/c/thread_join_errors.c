/* pthread_join's errors: ESRCH for an id that names no thread (made up,
 * or already joined), EDEADLK for the caller itself, EINVAL for a
 * detached thread or one another thread is already joining. */
#include "check.h"

static sem_t go;

static void *waits(void *arg) {
    (void)arg;
    sem_wait(&go);
    return NULL;
}

static pthread_t target;
static int second_join;

static void *joins_target(void *arg) {
    (void)arg;
    second_join = pthread_join(target, NULL);
    return NULL;
}

static void *self_join(void *arg) {
    (void)arg;
    return (void *)(intptr_t)pthread_join(pthread_self(), NULL);
}

/* Whether the thread table shows `t` blocked in a join. */
static int in_join(pthread_t t) {
    static weave_thread_info rows[4096];
    size_t n = weave_thread_table(rows, 4096);
    for (size_t i = 0; i < n && i < 4096; i++)
        if (pthread_equal(rows[i].id, t))
            return rows[i].state == WEAVE_THREAD_BLOCKED && rows[i].block_reason == WEAVE_BLOCK_JOIN;
    return 0;
}

int main(void) {
    EQ(sem_init(&go, 0, 0), 0);
    EQ(pthread_join((pthread_t)0, NULL), ESRCH);
    EQ(pthread_join((pthread_t)0x7777777700001234ULL, NULL), ESRCH);

    /* Self-join, from main and from a thread. */
    EQ(pthread_join(pthread_self(), NULL), EDEADLK);
    pthread_t s;
    void *r;
    EQ(pthread_create(&s, NULL, self_join, NULL), 0);
    EQ(pthread_join(s, &r), 0);
    EQ((intptr_t)r, EDEADLK);

    /* A second joiner while the first waits: EINVAL. */
    EQ(pthread_create(&target, NULL, waits, NULL), 0);
    pthread_t j;
    EQ(pthread_create(&j, NULL, joins_target, NULL), 0);
    /* Wait until the first joiner is blocked in its join. */
    while (!in_join(j)) usleep(1000);
    EQ(pthread_join(target, NULL), EINVAL);
    EQ(sem_post(&go), 0);
    EQ(pthread_join(j, NULL), 0);
    EQ(second_join, 0);

    /* Joined already: the id is stale. */
    EQ(pthread_join(target, NULL), ESRCH);

    /* Detached: EINVAL while it runs. */
    pthread_t d;
    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    EQ(pthread_create(&d, &a, waits, NULL), 0);
    EQ(pthread_join(d, NULL), EINVAL);
    EQ(sem_post(&go), 0);
    EQ(pthread_attr_destroy(&a), 0);
    return 0;
}
