/* The C side of `weave bench` (workloads c_create_join, c_mutex,
 * c_sem_pingpong and c_cond_pingpong): the
 * same pthreads code compiled twice by build.rs, once plain (glibc's
 * threads) and once with -include weave/pthread.h (weave's), each copy's
 * entry points named by CBENCH(name). Nothing here knows which it is. */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static double clock_ns(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

static void *returns(void *arg) { return arg; }

struct create_join {
    int n;
    double ns;
};

/* Creates n threads that return at once, then joins them; on a thread of
 * its own, as code running on threads does. */
static void *create_join_loop(void *arg) {
    struct create_join *c = arg;
    pthread_t *t = malloc(sizeof *t * (size_t)c->n);
    if (!t) return (void *)1;
    double start = now_ns();
    for (int i = 0; i < c->n; i++)
        if (pthread_create(&t[i], NULL, returns, NULL) != 0) return (void *)1;
    for (int i = 0; i < c->n; i++)
        if (pthread_join(t[i], NULL) != 0) return (void *)1;
    c->ns = (now_ns() - start) / c->n;
    free(t);
    return NULL;
}

/* ns per thread created and joined, or -1 on an error. */
double CBENCH(create_join)(int n) {
    struct create_join c = {n, 0};
    pthread_t t;
    void *r;
    if (pthread_create(&t, NULL, create_join_loop, &c) != 0) return -1;
    if (pthread_join(t, &r) != 0 || r != NULL) return -1;
    return c.ns;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static long counter, per_thread;
/* When the first thread passed the barrier and when the last one finished,
 * in ns (0: not yet). The clock runs between the two, not from when main
 * passes the barrier to when it has joined them all: on a loaded machine
 * main (an OS thread the barrier wakes) may run long after the threads
 * started, even after they finished, which made the figure too small. */
static long long first_start, last_end;
/* The process's CPU time (all its threads) at the same two moments: the
 * cost of the operations. The wall time between them is that CPU time
 * divided by the share of a CPU the kernel gave the process meanwhile,
 * which on a shared machine other processes decide. */
static long long first_cpu, last_cpu;
static double last_cpu_ns;

/* Stores the clock `c` in `*at` if `*at` is 0 or it reads earlier
 * (`earliest`) or later than `*at`. */
static void note(long long *at, int earliest, clockid_t c) {
    long long now = (long long)clock_ns(c), seen = 0;
    while (!__atomic_compare_exchange_n(at, &seen, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        if (earliest ? seen <= now : seen >= now) break;
}

static void *hammer(void *arg) {
    pthread_barrier_wait(&start);
    note(&first_start, 1, CLOCK_MONOTONIC);
    note(&first_cpu, 1, CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    note(&last_cpu, 0, CLOCK_PROCESS_CPUTIME_ID);
    note(&last_end, 0, CLOCK_MONOTONIC);
    return arg;
}

/* ns per lock/increment/unlock of one mutex shared by `threads` threads,
 * or -1 on an error (or a lost increment). */
double CBENCH(mutex)(int threads, long per) {
    pthread_t *t = malloc(sizeof *t * (size_t)threads);
    if (!t) return -1;
    counter = 0;
    per_thread = per;
    first_start = last_end = first_cpu = last_cpu = 0;
    if (pthread_barrier_init(&start, NULL, (unsigned)threads + 1) != 0) return -1;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, hammer, NULL) != 0) return -1;
    pthread_barrier_wait(&start);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double ns = (double)(last_end - first_start) / ((double)threads * (double)per);
    last_cpu_ns = (double)(last_cpu - first_cpu) / ((double)threads * (double)per);
    pthread_barrier_destroy(&start);
    free(t);
    return counter == threads * per ? ns : -1;
}

/* The process's CPU time per operation in the last CBENCH(mutex) run. */
double CBENCH(mutex_cpu)(void) { return last_cpu_ns; }

/* Ping-pong: two threads take turns `per_thread` times each, through two
 * semaphores (one posts s1 and waits on s2, the other waits on s1 and posts
 * s2) or through one mutex and one condition variable (each waits for its
 * turn, takes it, signals and unlocks). Both on one LWP for weave
 * (pthread_setconcurrency(1), a hint glibc ignores). The clocks run as in
 * CBENCH(mutex): from the first thread's start to the last one's end. */
static sem_t s1, s2;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static long turn, pp_failed;

static void pp_start(void) {
    note(&first_start, 1, CLOCK_MONOTONIC);
    note(&first_cpu, 1, CLOCK_PROCESS_CPUTIME_ID);
}

static void pp_end(void) {
    note(&last_cpu, 0, CLOCK_PROCESS_CPUTIME_ID);
    note(&last_end, 0, CLOCK_MONOTONIC);
}

static void *sem_ping(void *arg) {
    pp_start();
    for (long i = 0; i < per_thread; i++)
        if (sem_post(&s1) != 0 || sem_wait(&s2) != 0) __atomic_store_n(&pp_failed, 1, __ATOMIC_RELAXED);
    pp_end();
    return arg;
}

static void *sem_pong(void *arg) {
    pp_start();
    for (long i = 0; i < per_thread; i++)
        if (sem_wait(&s1) != 0 || sem_post(&s2) != 0) __atomic_store_n(&pp_failed, 1, __ATOMIC_RELAXED);
    pp_end();
    return arg;
}

/* Takes the turns of side `me` (0 or 1) of the condition-variable game. */
static void cond_side(long me) {
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&lock);
        while ((turn & 1) != me) pthread_cond_wait(&turn_cv, &lock);
        turn++;
        pthread_cond_signal(&turn_cv);
        pthread_mutex_unlock(&lock);
    }
}

static void *cond_ping(void *arg) {
    pp_start();
    cond_side(0);
    pp_end();
    return arg;
}

static void *cond_pong(void *arg) {
    pp_start();
    cond_side(1);
    pp_end();
    return arg;
}

/* Runs the two sides for n round trips on one LWP; wall ns per round trip
 * (CPU ns in CBENCH(pingpong_cpu)), or -1 on an error. */
static double pingpong(void *(*a)(void *), void *(*b)(void *), long n) {
    int old = pthread_getconcurrency();
    pthread_t t[2];
    per_thread = n;
    turn = pp_failed = 0;
    first_start = last_end = first_cpu = last_cpu = 0;
    if (pthread_setconcurrency(1) != 0) return -1;
    int ok = pthread_create(&t[0], NULL, a, NULL) == 0;
    if (ok && pthread_create(&t[1], NULL, b, NULL) != 0) {
        pthread_join(t[0], NULL);
        ok = 0;
    } else if (ok) {
        pthread_join(t[0], NULL);
        pthread_join(t[1], NULL);
    }
    pthread_setconcurrency(old);
    if (!ok || pp_failed) return -1;
    last_cpu_ns = (double)(last_cpu - first_cpu) / (double)n;
    return (double)(last_end - first_start) / (double)n;
}

/* ns per semaphore round trip (post, wait on each side), or -1. */
double CBENCH(sem_pingpong)(long n) {
    if (sem_init(&s1, 0, 0) != 0 || sem_init(&s2, 0, 0) != 0) return -1;
    double ns = pingpong(sem_ping, sem_pong, n);
    sem_destroy(&s1);
    sem_destroy(&s2);
    return ns;
}

/* ns per condition-variable round trip (each side: lock, wait for its
 * turn, take it, signal, unlock), or -1. */
double CBENCH(cond_pingpong)(long n) {
    double ns = pingpong(cond_ping, cond_pong, n);
    return ns >= 0 && turn == 2 * n ? ns : -1;
}

/* The process's CPU time per round trip in the last ping-pong run. */
double CBENCH(pingpong_cpu)(void) { return last_cpu_ns; }
