/* pthread_join of the main thread: another thread may join `main`; the
 * join returns once `main` has called pthread_exit, with its value, after
 * `main`'s cleanup handlers and key destructors ran (POSIX: they are part
 * of its termination), and the process then exits with status 0 once the
 * joiner has finished. A second joiner while one waits is EINVAL; once
 * joined, the id names no joinable thread (ESRCH). The harness checks the
 * output. */
#include "check.h"

#include <pthread.h>

static pthread_t main_id;
static volatile int main_cleanup_ran, main_destructor_ran;
static pthread_key_t key;

static void destructor(void *v) {
    CHECK(v == (void *)0x42);
    main_destructor_ran = 1;
}

static void cleanup(void *arg) {
    (void)arg;
    main_cleanup_ran = 1;
}

static void *second_joiner(void *arg) {
    (void)arg;
    return (void *)(intptr_t)pthread_join(main_id, NULL);
}

static void *joiner(void *arg) {
    (void)arg;
    EQ(pthread_tryjoin_np(main_id, NULL), EBUSY);
    void *value = NULL;
    EQ(pthread_join(main_id, &value), 0);
    CHECK(value == (void *)0x99);
    CHECK(main_cleanup_ran);
    CHECK(main_destructor_ran);
    EQ(pthread_join(main_id, NULL), ESRCH);
    EQ(pthread_detach(main_id), ESRCH);
    printf("joined main: %p\n", value);
    fflush(stdout);
    return NULL;
}

int main(void) {
    main_id = pthread_self();
    EQ(pthread_key_create(&key, destructor), 0);
    EQ(pthread_setspecific(key, (void *)0x42), 0);
    pthread_t t, t2;
    EQ(pthread_create(&t, NULL, joiner, NULL), 0);
    wait_blocked(t);
    /* One join at a time. */
    EQ(pthread_create(&t2, NULL, second_joiner, NULL), 0);
    void *r = NULL;
    EQ(pthread_join(t2, &r), 0);
    EQ((intptr_t)r, EINVAL);
    EQ(pthread_detach(main_id), EINVAL);
    EQ(pthread_detach(t), 0);
    pthread_cleanup_push(cleanup, NULL);
    pthread_exit((void *)0x99);
    pthread_cleanup_pop(0);
    return 1;
}
