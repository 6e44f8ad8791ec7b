/* pthread_setschedparam / getschedparam: the policy and priority are
 * stored and returned, sched_priority maps onto weave's priorities (FIFO
 * 99 is weave's highest, 31; SCHED_OTHER is weave's default, 16), and
 * invalid values are EINVAL, a stale id ESRCH. */
#include "check.h"

static void *noop(void *arg) { return arg; }

int main(void) {
    pthread_t me = pthread_self();
    struct sched_param p = {.sched_priority = 99};
    int policy, prio;
    EQ(pthread_setschedparam(me, SCHED_FIFO, &p), 0);
    p.sched_priority = 0;
    EQ(pthread_getschedparam(me, &policy, &p), 0);
    EQ(weave_thread_get_priority(me, &prio), 0);
    EQ(prio, 31);
    p.sched_priority = 0;
    EQ(pthread_setschedparam(me, SCHED_OTHER, &p), 0);
    EQ(weave_thread_get_priority(me, &prio), 0);
    EQ(prio, 16);
    p.sched_priority = 5;
    EQ(pthread_setschedparam(me, SCHED_OTHER, &p), EINVAL);
    p.sched_priority = 100;
    EQ(pthread_setschedparam(me, SCHED_RR, &p), EINVAL);
    EQ(pthread_setschedparam(me, 777, &p), EINVAL);
    EQ(pthread_setschedparam(me, SCHED_RR, NULL), EINVAL);

    /* A C thread keeps the policy it was given. */
    pthread_t t;
    EQ(pthread_create(&t, NULL, noop, NULL), 0);
    p.sched_priority = 10;
    int r = pthread_setschedparam(t, SCHED_RR, &p);
    CHECK(r == 0 || r == ESRCH); /* it may have finished already */
    if (r == 0) {
        r = pthread_getschedparam(t, &policy, &p);
        CHECK(r == ESRCH || (r == 0 && policy == SCHED_RR && p.sched_priority == 10));
    }
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_setschedparam(t, SCHED_RR, &p), ESRCH);
    EQ(pthread_getschedparam(t, &policy, &p), ESRCH);
    EQ(weave_thread_set_priority(me, 32), EINVAL);
    EQ(weave_thread_set_priority(me, 20), 0);
    EQ(weave_thread_get_priority(me, &prio), 0);
    EQ(prio, 20);
    return 0;
}
