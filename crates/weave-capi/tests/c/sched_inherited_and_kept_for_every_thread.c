/* Scheduling policy and priority (pthread_setschedparam, getschedparam,
 * setschedprio, pthread_attr_setinheritsched): what is set on any thread
 * (main, a joinable or a detached one) is what getschedparam returns; a
 * thread created with PTHREAD_INHERIT_SCHED (the default, and a null
 * attr) starts with its creator's policy and priority, and one created
 * with PTHREAD_EXPLICIT_SCHED with the attributes'. pthread_getattr_np
 * reports the inherit-sched a thread was created with. */
#include "check.h"

#include <pthread.h>

struct seen {
    int policy, prio, inherit;
};

static void *report(void *arg) {
    struct seen *s = arg;
    struct sched_param p;
    EQ(pthread_getschedparam(pthread_self(), &s->policy, &p), 0);
    s->prio = p.sched_priority;
    pthread_attr_t a;
    EQ(pthread_getattr_np(pthread_self(), &a), 0);
    EQ(pthread_attr_getinheritsched(&a, &s->inherit), 0);
    EQ(pthread_attr_destroy(&a), 0);
    return NULL;
}

static void run(const pthread_attr_t *a, struct seen *s) {
    pthread_t t;
    EQ(pthread_create(&t, a, report, s), 0);
    EQ(pthread_join(t, NULL), 0);
}

static sem_t go;
static void *waits(void *arg) {
    (void)arg;
    sem_wait(&go);
    return NULL;
}

int main(void) {
    pthread_t me = pthread_self();
    struct sched_param p = {.sched_priority = 15};
    int policy;
    struct seen s;

    /* Before any is set: SCHED_OTHER, 0, inherited. */
    run(NULL, &s);
    EQ(s.policy, SCHED_OTHER);
    EQ(s.prio, 0);
    EQ(s.inherit, PTHREAD_INHERIT_SCHED);

    /* main keeps what it set. */
    EQ(pthread_setschedparam(me, SCHED_FIFO, &p), 0);
    p.sched_priority = 0;
    EQ(pthread_getschedparam(me, &policy, &p), 0);
    EQ(policy, SCHED_FIFO);
    EQ(p.sched_priority, 15);
    EQ(pthread_setschedprio(me, 20), 0);
    EQ(pthread_getschedparam(me, &policy, &p), 0);
    EQ(policy, SCHED_FIFO);
    EQ(p.sched_priority, 20);

    /* Inherited, with a null attr and with default attributes. */
    run(NULL, &s);
    EQ(s.policy, SCHED_FIFO);
    EQ(s.prio, 20);
    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    run(&a, &s);
    EQ(s.policy, SCHED_FIFO);
    EQ(s.prio, 20);
    EQ(s.inherit, PTHREAD_INHERIT_SCHED);

    /* Explicit: the attributes' own. */
    EQ(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED), 0);
    EQ(pthread_attr_setschedpolicy(&a, SCHED_RR), 0);
    p.sched_priority = 3;
    EQ(pthread_attr_setschedparam(&a, &p), 0);
    run(&a, &s);
    EQ(s.policy, SCHED_RR);
    EQ(s.prio, 3);
    EQ(s.inherit, PTHREAD_EXPLICIT_SCHED);

    /* A detached thread keeps what is set on it too. */
    EQ(sem_init(&go, 0, 0), 0);
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    pthread_t d;
    EQ(pthread_create(&d, &a, waits, NULL), 0);
    EQ(pthread_attr_destroy(&a), 0);
    EQ(pthread_getschedparam(d, &policy, &p), 0);
    EQ(policy, SCHED_FIFO); /* inherited from main */
    EQ(p.sched_priority, 20);
    p.sched_priority = 7;
    EQ(pthread_setschedparam(d, SCHED_RR, &p), 0);
    p.sched_priority = 0;
    EQ(pthread_getschedparam(d, &policy, &p), 0);
    EQ(policy, SCHED_RR);
    EQ(p.sched_priority, 7);
    EQ(sem_post(&go), 0);

    /* Back to the defaults: children are SCHED_OTHER, 0 again. */
    p.sched_priority = 0;
    EQ(pthread_setschedparam(me, SCHED_OTHER, &p), 0);
    run(NULL, &s);
    EQ(s.policy, SCHED_OTHER);
    EQ(s.prio, 0);
    return 0;
}
