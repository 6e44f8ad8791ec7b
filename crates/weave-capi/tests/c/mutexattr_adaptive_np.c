/* glibc's PTHREAD_MUTEX_ADAPTIVE_NP kind (pthread_mutexattr_settype, a
 * GNU extension): accepted and returned by gettype, and the mutex it
 * makes behaves as a normal one, as does glibc's static initialiser of
 * that kind. */
#include "check.h"

int main(void) {
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    int v;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP), 0);
    EQ(pthread_mutexattr_gettype(&a, &v), 0);
    EQ(v, PTHREAD_MUTEX_ADAPTIVE_NP);
    EQ(pthread_mutex_init(&m, &a), 0);
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_trylock(&m), EBUSY);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_destroy(&m), 0);
    pthread_mutex_t s = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
    EQ(pthread_mutex_lock(&s), 0);
    EQ(pthread_mutex_trylock(&s), EBUSY);
    EQ(pthread_mutex_unlock(&s), 0);
    EQ(pthread_mutexattr_destroy(&a), 0);
    return 0;
}
