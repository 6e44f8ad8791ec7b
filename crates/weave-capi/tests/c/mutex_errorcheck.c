/* PTHREAD_MUTEX_ERRORCHECK: relocking is EDEADLK, unlocking a mutex one
 * does not hold is EPERM; the same through glibc's static initialiser. */
#include "check.h"

static pthread_mutex_t s = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_mutex_t m;

static void *unlock_other(void *arg) { return (void *)(intptr_t)pthread_mutex_unlock(arg); }

int main(void) {
    pthread_mutexattr_t a;
    int kind;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
    EQ(pthread_mutexattr_gettype(&a, &kind), 0);
    EQ(kind, PTHREAD_MUTEX_ERRORCHECK);
    EQ(pthread_mutexattr_settype(&a, 77), EINVAL);
    EQ(pthread_mutex_init(&m, &a), 0);
    EQ(pthread_mutexattr_destroy(&a), 0);

    pthread_mutex_t *both[] = {&m, &s};
    for (int i = 0; i < 2; i++) {
        pthread_mutex_t *x = both[i];
        EQ(pthread_mutex_unlock(x), EPERM);
        EQ(pthread_mutex_lock(x), 0);
        EQ(pthread_mutex_lock(x), EDEADLK);
        EQ(pthread_mutex_trylock(x), EBUSY);
        pthread_t t;
        void *r;
        EQ(pthread_create(&t, NULL, unlock_other, x), 0);
        EQ(pthread_join(t, &r), 0);
        EQ((intptr_t)r, EPERM);
        EQ(pthread_mutex_unlock(x), 0);
        EQ(pthread_mutex_unlock(x), EPERM);
    }
    EQ(pthread_mutex_destroy(&m), 0);
    return 0;
}
