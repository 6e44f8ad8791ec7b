/* PTHREAD_MUTEX_RECURSIVE: the owner may lock again (lock or trylock);
 * the mutex is free only after as many unlocks; other threads get EBUSY
 * until then, and EPERM when they unlock. Also glibc's initialiser. */
#include "check.h"

static pthread_mutex_t s = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t m;

static void *try_other(void *arg) { return (void *)(intptr_t)pthread_mutex_trylock(arg); }
static void *unlock_other(void *arg) { return (void *)(intptr_t)pthread_mutex_unlock(arg); }

static int from_other(void *(*f)(void *), pthread_mutex_t *x) {
    pthread_t t;
    void *r;
    EQ(pthread_create(&t, NULL, f, x), 0);
    EQ(pthread_join(t, &r), 0);
    return (int)(intptr_t)r;
}

int main(void) {
    pthread_mutexattr_t a;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE), 0);
    EQ(pthread_mutex_init(&m, &a), 0);
    pthread_mutex_t *both[] = {&m, &s};
    for (int i = 0; i < 2; i++) {
        pthread_mutex_t *x = both[i];
        EQ(pthread_mutex_lock(x), 0);
        EQ(pthread_mutex_lock(x), 0);
        EQ(pthread_mutex_trylock(x), 0);
        EQ(from_other(try_other, x), EBUSY);
        EQ(from_other(unlock_other, x), EPERM);
        EQ(pthread_mutex_unlock(x), 0);
        EQ(pthread_mutex_unlock(x), 0);
        EQ(from_other(try_other, x), EBUSY);
        EQ(pthread_mutex_unlock(x), 0);
        EQ(pthread_mutex_unlock(x), EPERM);
        /* Free now: another thread takes it (and leaves it locked). */
        EQ(from_other(try_other, x), 0);
    }
    return 0;
}
