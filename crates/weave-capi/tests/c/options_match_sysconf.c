/* <unistd.h>'s option macros and sysconf agree on the options weave does
 * not support: process-shared objects (every *attr_setpshared and
 * pthread_spin_init refuse PTHREAD_PROCESS_SHARED), the priority
 * protocols (a mutex's protocol and ceiling are stored, not applied: no
 * holder is boosted) and robust mutexes with one (POSIX: -1 means not
 * supported). The protocols are still taken and returned, for programs
 * that set one whatever sysconf says. */
#include "check.h"

int main(void) {
    EQ(_POSIX_THREAD_PROCESS_SHARED, -1);
    EQ(sysconf(_SC_THREAD_PROCESS_SHARED), -1);
    EQ(_POSIX_THREAD_PRIO_INHERIT, -1);
    EQ(sysconf(_SC_THREAD_PRIO_INHERIT), -1);
    EQ(_POSIX_THREAD_PRIO_PROTECT, -1);
    EQ(sysconf(_SC_THREAD_PRIO_PROTECT), -1);
    EQ(_POSIX_THREAD_ROBUST_PRIO_INHERIT, -1);
    EQ(sysconf(_SC_THREAD_ROBUST_PRIO_INHERIT), -1);
    EQ(_POSIX_THREAD_ROBUST_PRIO_PROTECT, -1);
    EQ(sysconf(_SC_THREAD_ROBUST_PRIO_PROTECT), -1);
    pthread_mutexattr_t a;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), ENOTSUP);
    int p = -1;
    EQ(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT), 0);
    EQ(pthread_mutexattr_getprotocol(&a, &p), 0);
    EQ(p, PTHREAD_PRIO_INHERIT);
    EQ(pthread_mutexattr_destroy(&a), 0);
    return 0;
}
