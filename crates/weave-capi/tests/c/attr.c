/* pthread_attr_*: defaults after init, each setter's value read back,
 * each setter's EINVAL, EINVAL on a destroyed attribute object, and the
 * attributes in effect on a created thread. */
#include "check.h"

static void *noop(void *arg) { return arg; }

int main(void) {
    pthread_attr_t a;
    int v;
    size_t sz;
    struct sched_param p;
    EQ(pthread_attr_init(&a), 0);

    EQ(pthread_attr_getdetachstate(&a, &v), 0);
    EQ(v, PTHREAD_CREATE_JOINABLE);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    EQ(pthread_attr_getdetachstate(&a, &v), 0);
    EQ(v, PTHREAD_CREATE_DETACHED);
    EQ(pthread_attr_setdetachstate(&a, 12345), EINVAL);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_JOINABLE), 0);

    EQ(pthread_attr_getstacksize(&a, &sz), 0);
    CHECK(sz >= (size_t)PTHREAD_STACK_MIN);
    EQ(pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN - 1), EINVAL);
    EQ(pthread_attr_setstacksize(&a, 1 << 20), 0);
    EQ(pthread_attr_getstacksize(&a, &sz), 0);
    EQ(sz, 1 << 20);

    EQ(pthread_attr_setguardsize(&a, 8192), 0);
    EQ(pthread_attr_getguardsize(&a, &sz), 0);
    EQ(sz, 8192);

    EQ(pthread_attr_getscope(&a, &v), 0);
    EQ(v, PTHREAD_SCOPE_PROCESS);
    EQ(pthread_attr_setscope(&a, 99), EINVAL);

    EQ(pthread_attr_getinheritsched(&a, &v), 0);
    EQ(v, PTHREAD_INHERIT_SCHED);
    EQ(pthread_attr_setinheritsched(&a, 99), EINVAL);
    EQ(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED), 0);
    EQ(pthread_attr_getinheritsched(&a, &v), 0);
    EQ(v, PTHREAD_EXPLICIT_SCHED);

    EQ(pthread_attr_setschedpolicy(&a, 4242), EINVAL);
    EQ(pthread_attr_setschedpolicy(&a, SCHED_FIFO), 0);
    EQ(pthread_attr_getschedpolicy(&a, &v), 0);
    EQ(v, SCHED_FIFO);
    p.sched_priority = 50;
    EQ(pthread_attr_setschedparam(&a, &p), 0);
    p.sched_priority = 0;
    EQ(pthread_attr_getschedparam(&a, &p), 0);
    EQ(p.sched_priority, 50);

    /* Explicit SCHED_FIFO 50 maps to a weave priority above the default. */
    pthread_t t;
    EQ(pthread_create(&t, &a, noop, NULL), 0);
    EQ(pthread_join(t, NULL), 0);

    /* A priority outside the policy's range is refused when set, and one
     * that the policy changed under fails at create. */
    p.sched_priority = 500;
    EQ(pthread_attr_setschedparam(&a, &p), EINVAL);
    EQ(pthread_attr_setschedpolicy(&a, SCHED_OTHER), 0);
    EQ(pthread_create(&t, &a, noop, NULL), EINVAL);
    EQ(pthread_attr_setschedpolicy(&a, SCHED_FIFO), 0);

    /* A user stack is stored and returned (setstack gives its bottom,
     * setstackaddr its top, as glibc reads them). */
    static char stack[1 << 16];
    void *addr;
    EQ(pthread_attr_setstack(&a, stack, PTHREAD_STACK_MIN - 1), EINVAL);
    EQ(pthread_attr_setstack(&a, stack, sizeof stack), 0);
    EQ(pthread_attr_getstack(&a, &addr, &sz), 0);
    CHECK(addr == (void *)stack && sz == sizeof stack);
    EQ(pthread_attr_getstackaddr(&a, &addr), 0);
    CHECK(addr == (void *)(stack + sizeof stack));
    EQ(pthread_attr_setstackaddr(&a, NULL), EINVAL);
    EQ(pthread_attr_setstackaddr(&a, stack + sizeof stack), 0);
    EQ(pthread_attr_getstack(&a, &addr, &sz), 0);
    CHECK(addr == (void *)stack && sz == sizeof stack);
    CHECK(sysconf(_SC_THREAD_ATTR_STACKADDR) > 0);

    EQ(pthread_attr_destroy(&a), 0);
    EQ(pthread_attr_getdetachstate(&a, &v), EINVAL);
    EQ(pthread_attr_destroy(&a), EINVAL);
    EQ(pthread_create(&t, &a, noop, NULL), EINVAL);
    EQ(pthread_attr_init(NULL), EINVAL);
    return 0;
}
