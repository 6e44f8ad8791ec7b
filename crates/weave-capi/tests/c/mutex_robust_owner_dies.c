/* Robust mutexes (pthread_mutexattr_setrobust, pthread_mutex_lock,
 * pthread_mutex_consistent): when the owner of a robust mutex ends while
 * holding it (by returning, or by pthread_exit), the next thread to lock
 * it gets EOWNERDEAD and holds it; pthread_mutex_consistent makes it
 * consistent again, and after its unlock the mutex is an ordinary one.
 * A thread blocked in pthread_mutex_lock at the owner's end is the one
 * that gets it with EOWNERDEAD. Every kind may be robust. */
#include "check.h"

static pthread_mutex_t m;

static void *lock_and_return(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    return NULL;
}

static void *lock_and_exit(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    pthread_exit(NULL);
}

static int owner_may_end;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;

static void *lock_wait_and_return(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_lock(&gate), 0);
    while (!owner_may_end) EQ(pthread_cond_wait(&gate_cv, &gate), 0);
    EQ(pthread_mutex_unlock(&gate), 0);
    return NULL;
}

static void *waiter(void *arg) {
    (void)arg;
    intptr_t r = pthread_mutex_lock(&m);
    if (r == EOWNERDEAD) {
        EQ(pthread_mutex_consistent(&m), 0);
    }
    EQ(pthread_mutex_unlock(&m), 0);
    return (void *)r;
}

static void run(void *(*f)(void *)) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, f, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
}

static void check_kind(int kind) {
    pthread_mutexattr_t a;
    int v;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    EQ(v, PTHREAD_MUTEX_STALLED);
    EQ(pthread_mutexattr_settype(&a, kind), 0);
    EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    EQ(v, PTHREAD_MUTEX_ROBUST);
    EQ(pthread_mutexattr_setrobust(&a, 12345), EINVAL);
    EQ(pthread_mutex_init(&m, &a), 0);
    EQ(pthread_mutexattr_destroy(&a), 0);

    /* A consistent robust mutex needs no pthread_mutex_consistent. */
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_consistent(&m), EINVAL);
    EQ(pthread_mutex_unlock(&m), 0);

    /* The owner returns holding it: the next trylock owns it, with
     * EOWNERDEAD, and may make it consistent. */
    run(lock_and_return);
    EQ(pthread_mutex_trylock(&m), EOWNERDEAD);
    EQ(pthread_mutex_consistent(&m), 0);
    EQ(pthread_mutex_consistent(&m), EINVAL);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);

    /* The owner calls pthread_exit holding it: the same, for lock. */
    run(lock_and_exit);
    EQ(pthread_mutex_lock(&m), EOWNERDEAD);
    EQ(pthread_mutex_consistent(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);

    /* A thread blocked in lock when the owner ends gets it. */
    owner_may_end = 0;
    pthread_t owner, w;
    EQ(pthread_create(&owner, NULL, lock_wait_and_return, NULL), 0);
    while (pthread_mutex_trylock(&m) == 0) {
        /* not taken yet: give it back and let the owner run */
        EQ(pthread_mutex_unlock(&m), 0);
        sched_yield();
    }
    EQ(pthread_create(&w, NULL, waiter, NULL), 0);
    wait_blocked_in(w, WEAVE_BLOCK_MUTEX);
    EQ(pthread_mutex_lock(&gate), 0);
    owner_may_end = 1;
    EQ(pthread_cond_signal(&gate_cv), 0);
    EQ(pthread_mutex_unlock(&gate), 0);
    EQ(pthread_join(owner, NULL), 0);
    void *r;
    EQ(pthread_join(w, &r), 0);
    EQ((intptr_t)r, EOWNERDEAD);

    /* Consistent again: an ordinary lock. */
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_destroy(&m), 0);
}

int main(void) {
    check_kind(PTHREAD_MUTEX_NORMAL);
    check_kind(PTHREAD_MUTEX_ERRORCHECK);
    check_kind(PTHREAD_MUTEX_RECURSIVE);
    return 0;
}
