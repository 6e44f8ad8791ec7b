/* pthread_mutex_init/destroy and the mutex attributes: destroy of a held
 * mutex is EBUSY; a destroyed mutex is EINVAL until initialised again;
 * protocol and priority ceiling are stored and returned; process-shared
 * is refused (ENOTSUP); robust is stored; bad values are EINVAL. */
#include "check.h"

int main(void) {
    pthread_mutex_t m;
    pthread_mutexattr_t a;
    int v;
    EQ(pthread_mutex_init(&m, NULL), 0);
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_destroy(&m), EBUSY);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_destroy(&m), 0);
    EQ(pthread_mutex_lock(&m), EINVAL);
    EQ(pthread_mutex_trylock(&m), EINVAL);
    EQ(pthread_mutex_unlock(&m), EINVAL);
    EQ(pthread_mutex_destroy(&m), EINVAL);
    EQ(pthread_mutex_init(&m, NULL), 0);
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);

    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_gettype(&a, &v), 0);
    EQ(v, PTHREAD_MUTEX_DEFAULT);
    EQ(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT), 0);
    EQ(pthread_mutexattr_getprotocol(&a, &v), 0);
    EQ(v, PTHREAD_PRIO_PROTECT);
    EQ(pthread_mutexattr_setprotocol(&a, 9), EINVAL);
    EQ(pthread_mutexattr_setprioceiling(&a, 42), 0);
    EQ(pthread_mutexattr_getprioceiling(&a, &v), 0);
    EQ(v, 42);
    EQ(pthread_mutexattr_setprioceiling(&a, 1000), EINVAL);
    EQ(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), ENOTSUP);
    EQ(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_PRIVATE), 0);
    EQ(pthread_mutexattr_getpshared(&a, &v), 0);
    EQ(v, PTHREAD_PROCESS_PRIVATE);
    EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    EQ(v, PTHREAD_MUTEX_STALLED);
    EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    EQ(v, PTHREAD_MUTEX_ROBUST);
    EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_STALLED), 0);

    pthread_mutex_t c;
    EQ(pthread_mutex_init(&c, &a), 0);
    EQ(pthread_mutex_getprioceiling(&c, &v), 0);
    EQ(v, 42);
    int old;
    EQ(pthread_mutex_setprioceiling(&c, 7, &old), 0);
    EQ(old, 42);
    EQ(pthread_mutex_getprioceiling(&c, &v), 0);
    EQ(v, 7);
    EQ(pthread_mutex_destroy(&c), 0);

    EQ(pthread_mutexattr_destroy(&a), 0);
    EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL), EINVAL);
    EQ(pthread_mutex_init(&c, &a), EINVAL);
    EQ(sysconf(_SC_THREAD_PROCESS_SHARED), -1);
    EQ(sysconf(_SC_THREAD_ROBUST_PRIO_INHERIT), -1);
    EQ(sysconf(_SC_THREAD_ROBUST_PRIO_PROTECT), -1);
    return 0;
}
