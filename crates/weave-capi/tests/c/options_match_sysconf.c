/* <unistd.h>'s option macros and sysconf agree on the options weave does
 * not support: process-shared objects (every *attr_setpshared and
 * pthread_spin_init refuse PTHREAD_PROCESS_SHARED) and robust mutexes
 * with a priority protocol (POSIX: -1 means not supported). */
#include "check.h"

int main(void) {
    EQ(_POSIX_THREAD_PROCESS_SHARED, -1);
    EQ(sysconf(_SC_THREAD_PROCESS_SHARED), -1);
    EQ(_POSIX_THREAD_ROBUST_PRIO_INHERIT, -1);
    EQ(sysconf(_SC_THREAD_ROBUST_PRIO_INHERIT), -1);
    EQ(_POSIX_THREAD_ROBUST_PRIO_PROTECT, -1);
    EQ(sysconf(_SC_THREAD_ROBUST_PRIO_PROTECT), -1);
    pthread_mutexattr_t a;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), ENOTSUP);
    EQ(pthread_mutexattr_destroy(&a), 0);
    return 0;
}
