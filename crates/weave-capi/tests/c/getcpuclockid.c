/* pthread_getcpuclockid: "the clock ID of the CPU-time clock of the
 * thread specified by thread_id, if the thread exists" (ESRCH for one that
 * does not). A thread with a kernel thread of its own for its whole life,
 * the main thread or a bound thread (PTHREAD_SCOPE_SYSTEM), gets the
 * kernel's CPU clock of that kernel thread: for the caller, the clock
 * CLOCK_THREAD_CPUTIME_ID reads. A ULT that shares LWPs has none of its
 * own: ENOENT, and sysconf(_SC_THREAD_CPUTIME) is -1 to say the option is
 * not there for every thread. */
#include "check.h"

static sem_t spun, done;
static clockid_t mine;

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static void *bound_spins(void *arg) {
    (void)arg;
    EQ(pthread_getcpuclockid(pthread_self(), &mine), 0);
    struct timespec t;
    do {
        EQ(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t), 0);
    } while (ns(t) < 20000000LL);
    EQ(sem_post(&spun), 0);
    EQ(sem_wait(&done), 0);
    return NULL;
}

static void *ult(void *arg) {
    clockid_t c;
    *(int *)arg = pthread_getcpuclockid(pthread_self(), &c);
    return NULL;
}

int main(void) {
    EQ(sem_init(&spun, 0, 0), 0);
    EQ(sem_init(&done, 0, 0), 0);
    EQ(sysconf(_SC_THREAD_CPUTIME), -1);

    /* The main thread: the same clock as CLOCK_THREAD_CPUTIME_ID. */
    clockid_t c;
    EQ(pthread_getcpuclockid(pthread_self(), &c), 0);
    struct timespec a, b, d;
    EQ(clock_gettime(c, &a), 0);
    EQ(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b), 0);
    EQ(clock_gettime(c, &d), 0);
    CHECK(ns(a) <= ns(b) && ns(b) <= ns(d));

    /* A bound thread's clock, read by another thread: at least the CPU
     * time the thread saw on its own clock. */
    pthread_attr_t at;
    EQ(pthread_attr_init(&at), 0);
    EQ(pthread_attr_setscope(&at, PTHREAD_SCOPE_SYSTEM), 0);
    pthread_t t;
    EQ(pthread_create(&t, &at, bound_spins, NULL), 0);
    EQ(sem_wait(&spun), 0);
    clockid_t theirs;
    EQ(pthread_getcpuclockid(t, &theirs), 0);
    EQ(theirs, mine);
    EQ(clock_gettime(theirs, &a), 0);
    CHECK(ns(a) >= 20000000LL);
    EQ(sem_post(&done), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_attr_destroy(&at), 0);

    /* A ULT that shares LWPs: no clock of its own. */
    int r = -1;
    EQ(pthread_create(&t, NULL, ult, &r), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(r, ENOENT);

    /* Errors. */
    EQ(pthread_getcpuclockid(t, &c), ESRCH);
    EQ(pthread_getcpuclockid(pthread_self(), NULL), EINVAL);
    return 0;
}
