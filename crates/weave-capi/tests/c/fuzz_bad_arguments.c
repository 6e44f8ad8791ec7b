/* Bad arguments never crash: random pthread_t values give ESRCH (or EINVAL
 * for calls where POSIX says so), never a fault; objects filled with
 * random bytes, or destroyed, give EINVAL; NULL pointers give EINVAL. The
 * seed is fixed so that a failure can be replayed. */
#include "check.h"

static uint64_t state = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static void fill(void *p, size_t n) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)next();
}

static void *noop(void *arg) { return arg; }

int main(void) {
    /* A live thread, so that some random ids land on used slots. */
    pthread_t live;
    EQ(pthread_create(&live, NULL, noop, NULL), 0);
    EQ(pthread_join(live, NULL), 0);

    for (int i = 0; i < 20000; i++) {
        pthread_t t = (pthread_t)next();
        if (i % 4 == 0) t = (pthread_t)((next() & 0xffffffff00000000ULL) | (next() % 64));
        if (pthread_equal(t, pthread_self())) continue;
        char buf[32];
        struct sched_param p = {0};
        int pol;
        pthread_attr_t a;
        EQ(pthread_join(t, NULL), ESRCH);
        EQ(pthread_detach(t), ESRCH);
        EQ(pthread_setname_np(t, "x"), ESRCH);
        EQ(pthread_getname_np(t, buf, sizeof buf), ESRCH);
        EQ(pthread_getschedparam(t, &pol, &p), ESRCH);
        EQ(pthread_setschedparam(t, SCHED_OTHER, &p), ESRCH);
        EQ(pthread_getattr_np(t, &a), ESRCH);
        EQ(weave_thread_set_priority(t, 3), ESRCH);
    }

    for (int i = 0; i < 2000; i++) {
        union {
            pthread_mutex_t m;
            pthread_cond_t c;
            pthread_rwlock_t r;
            pthread_barrier_t b;
            sem_t s;
            pthread_attr_t a;
            pthread_mutexattr_t ma;
            pthread_condattr_t ca;
            char bytes[128];
        } u;
        fill(&u, sizeof u);
        /* Byte 4..8 is the object state word; zero it sometimes to make a
         * static initialiser with garbage elsewhere (which is valid). */
        int lazy = (u.bytes[4] | u.bytes[5] | u.bytes[6] | u.bytes[7]) == 0;
        if (!lazy) {
            EQ(pthread_mutex_lock(&u.m), EINVAL);
            EQ(pthread_mutex_trylock(&u.m), EINVAL);
            EQ(pthread_mutex_unlock(&u.m), EINVAL);
            EQ(pthread_mutex_destroy(&u.m), EINVAL);
            EQ(pthread_cond_signal(&u.c), EINVAL);
            EQ(pthread_cond_broadcast(&u.c), EINVAL);
            EQ(pthread_rwlock_rdlock(&u.r), EINVAL);
            EQ(pthread_rwlock_unlock(&u.r), EINVAL);
            EQ(pthread_barrier_wait(&u.b), EINVAL);
            EQ(sem_post(&u.s), -1);
            EQ(sem_trywait(&u.s), -1);
        }
        int v;
        size_t sz;
        if (u.bytes[0] != 0x54) {
            EQ(pthread_attr_getdetachstate(&u.a, &v), EINVAL);
            EQ(pthread_attr_getstacksize(&u.a, &sz), EINVAL);
        }
        if ((unsigned char)u.bytes[3] != 0xA5) EQ(pthread_mutexattr_gettype(&u.ma, &v), EINVAL);
    }

    EQ(pthread_mutex_lock(NULL), EINVAL);
    EQ(pthread_mutex_unlock(NULL), EINVAL);
    EQ(pthread_mutex_init(NULL, NULL), EINVAL);
    EQ(pthread_cond_wait(NULL, NULL), EINVAL);
    EQ(pthread_cond_signal(NULL), EINVAL);
    EQ(pthread_rwlock_wrlock(NULL), EINVAL);
    EQ(pthread_barrier_wait(NULL), EINVAL);
    EQ(pthread_spin_lock(NULL), EINVAL);
    EQ(pthread_key_create(NULL, NULL), EINVAL);
    EQ(pthread_attr_getstacksize(NULL, NULL), EINVAL);
    EQ(pthread_getname_np(pthread_self(), NULL, 10), EINVAL);
    EQ(sem_wait(NULL), -1);
    EQ(errno, EINVAL);
    EQ(pthread_setspecific(123456, NULL), EINVAL);
    EQ(pthread_getspecific(123456), NULL);
    EQ(pthread_key_delete(123456), EINVAL);
    return 0;
}
