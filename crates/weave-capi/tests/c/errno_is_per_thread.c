/* errno is per thread (XSH 2.3, "Error Numbers"): "For each thread of a
 * process, the value of errno shall not be affected by function calls or
 * assignments to errno by other threads." Two threads on one LWP
 * (pthread_setconcurrency(1)) set errno to values of their own and then
 * let the other run: through sched_yield, a condition wait, a sem_wait
 * and a nanosleep that succeed, and the pattern `errno = 0; strtol(..);
 * if (errno)`. Each must read back its own value. A new thread starts
 * with errno 0 (as the C library's threads do), whatever its creator or
 * the thread before it on the LWP left there. The main thread (an OS
 * thread, which weave's waits park in the kernel) keeps its errno across
 * successful waits too, and so does a fork child's thread. */
#include "check.h"

#include <limits.h>
#include <sys/wait.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static volatile int flag, a_sleeping, a_done;

/* sched_yield: each sets a value of its own before every yield. */
static void *yielder(void *arg) {
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        errno = base + i;
        EQ(sched_yield(), 0);
        EQ(errno, base + i);
    }
    return NULL;
}

/* A: waits on the condition, on the semaphore, then sleeps. */
static void *waiter(void *arg) {
    (void)arg;
    errno = EINVAL;
    EQ(pthread_mutex_lock(&m), 0);
    while (!flag) EQ(pthread_cond_wait(&cv, &m), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(errno, EINVAL);

    errno = EACCES;
    EQ(sem_wait(&sem), 0);
    EQ(errno, EACCES);

    errno = ENOENT;
    a_sleeping = 1;
    struct timespec t = {0, 20000000L};
    EQ(nanosleep(&t, NULL), 0);
    EQ(errno, ENOENT);
    a_done = 1;
    return NULL;
}

/* B: runs while A waits, with errno values of its own. */
static void *waker(void *arg) {
    (void)arg;
    errno = ENOMEM;
    EQ(pthread_mutex_lock(&m), 0);
    flag = 1;
    EQ(pthread_cond_signal(&cv), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(sched_yield(), 0);
    EQ(errno, ENOMEM);

    errno = EBUSY;
    EQ(sem_post(&sem), 0);
    EQ(sched_yield(), 0);
    EQ(errno, EBUSY);

    while (!a_sleeping) EQ(sched_yield(), 0);
    while (!a_done) {
        errno = EEXIST;
        EQ(sched_yield(), 0);
        EQ(errno, EEXIST);
    }
    return NULL;
}

/* `errno = 0; strtol(..); if (errno)`: the one that overflows sees
 * ERANGE, the one that does not sees 0, with a switch in between. */
static void *parser(void *arg) {
    int overflow = (int)(intptr_t)arg;
    const char *text = overflow ? "99999999999999999999999" : "12345";
    for (int i = 0; i < 1000; i++) {
        errno = 0;
        long v = strtol(text, NULL, 10);
        EQ(sched_yield(), 0);
        if (overflow) {
            EQ(v, LONG_MAX);
            EQ(errno, ERANGE);
        } else {
            EQ(v, 12345);
            EQ(errno, 0);
        }
    }
    return NULL;
}

/* Posts `sem` after a while, so that main's sem_wait waits. */
static void *post_later(void *arg) {
    (void)arg;
    EQ(usleep(5000), 0);
    EQ(sem_post(&sem), 0);
    return NULL;
}

static void *report_errno(void *arg) {
    (void)arg;
    return (void *)(intptr_t)errno;
}

/* Leaves a value in errno, then lets a new thread run on the LWP. */
static void *leave_and_create(void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        errno = 7000 + i;
        pthread_t c;
        void *r;
        EQ(pthread_create(&c, NULL, report_errno, NULL), 0);
        EQ(sched_yield(), 0);
        EQ(pthread_join(c, &r), 0);
        EQ((intptr_t)r, 0);
        EQ(errno, 7000 + i);
    }
    return NULL;
}

/* fork on a thread: the child's one thread is that thread, with its
 * errno, and keeps it across a wait that succeeds (it is then an OS
 * thread to weave). */
static void *forker(void *arg) {
    (void)arg;
    errno = E2BIG;
    pid_t pid = fork();
    if (pid == 0) {
        if (errno != E2BIG) _exit(2);
        errno = EILSEQ;
        struct timespec t = {0, 2000000L};
        if (nanosleep(&t, NULL) != 0) _exit(3);
        _exit(errno == EILSEQ ? 0 : 4);
    }
    CHECK(pid > 0);
    EQ(errno, E2BIG);
    int st;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0) EQ(usleep(1000), 0);
    EQ(w, pid);
    CHECK(WIFEXITED(st));
    EQ(WEXITSTATUS(st), 0);
    return NULL;
}

static void run_pair(void *(*fa)(void *), void *a, void *(*fb)(void *), void *b) {
    pthread_t ta, tb;
    EQ(pthread_create(&ta, NULL, fa, a), 0);
    EQ(pthread_create(&tb, NULL, fb, b), 0);
    EQ(pthread_join(ta, NULL), 0);
    EQ(pthread_join(tb, NULL), 0);
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(sem_init(&sem, 0, 0), 0);

    run_pair(yielder, (void *)(intptr_t)1000, yielder, (void *)(intptr_t)50000);
    run_pair(waiter, NULL, waker, NULL);
    run_pair(parser, (void *)(intptr_t)1, parser, (void *)(intptr_t)0);

    /* A new thread: created by main, and by a thread of the LWP. */
    errno = EPERM;
    pthread_t c;
    void *r;
    EQ(pthread_create(&c, NULL, report_errno, NULL), 0);
    EQ(pthread_join(c, &r), 0);
    EQ((intptr_t)r, 0);
    run_pair(leave_and_create, NULL, yielder, (void *)(intptr_t)90000);

    /* The main thread's own errno, across waits that park it. */
    errno = EDOM;
    struct timespec t = {0, 5000000L};
    EQ(nanosleep(&t, NULL), 0);
    EQ(errno, EDOM);
    errno = ERANGE;
    EQ(pthread_create(&c, NULL, report_errno, NULL), 0);
    EQ(usleep(2000), 0);
    EQ(pthread_join(c, NULL), 0);
    EQ(errno, ERANGE);
    errno = EXDEV;
    EQ(pthread_create(&c, NULL, post_later, NULL), 0);
    EQ(sem_wait(&sem), 0);
    EQ(errno, EXDEV);
    EQ(pthread_join(c, NULL), 0);
    /* A timed wait that times out returns the error; errno stays. */
    errno = ENOSPC;
    struct timespec at = after_ms(CLOCK_REALTIME, 5);
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_cond_timedwait(&cv, &m, &at), ETIMEDOUT);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(errno, ENOSPC);

    EQ(pthread_create(&c, NULL, forker, NULL), 0);
    EQ(pthread_join(c, NULL), 0);

    EQ(sem_destroy(&sem), 0);
    puts("errno per thread ok");
    return 0;
}
