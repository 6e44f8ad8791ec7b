/* The C side of `weave bench` (workloads c_create_join and c_mutex): the
 * same pthreads code compiled twice by build.rs, once plain (glibc's
 * threads) and once with -include weave/pthread.h (weave's), each copy's
 * entry points named by CBENCH(name). Nothing here knows which it is. */
#include <pthread.h>
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
