/* errno after calls that succeed: POSIX lets a successful call leave
 * errno unchanged or set it, but programs check errno after calls such
 * as strtol, with a thread call in between; glibc's thread calls leave it
 * alone, and so must weave's. Each call below succeeds with errno set to
 * a value of the program's, which must be there after it. And
 * weave_blocking's errno is the called function's, as if the caller had
 * called it: it starts with the caller's value and hands back its own. */
#include "check.h"
#include <semaphore.h>

#define KEPT(call)                                                            \
    do {                                                                      \
        errno = 4242;                                                         \
        EQ(call, 0);                                                          \
        if (errno != 4242) {                                                  \
            fprintf(stderr, "%s:%d: %s left errno %d\n", __FILE__, __LINE__, \
                    #call, errno);                                            \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init(void) { errno = 4242; }
static pthread_key_t key;
static void destructor(void *v) { (void)v; }
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int flag;
static sem_t s;

static void *body(void *arg) {
    (void)arg;
    KEPT(pthread_setspecific(key, &flag));
    KEPT(pthread_mutex_lock(&m));
    flag = 1;
    KEPT(pthread_cond_signal(&c));
    KEPT(pthread_mutex_unlock(&m));
    KEPT(sem_post(&s));
    return NULL;
}

static void *sets_errno(void *arg) {
    int *seen = arg;
    *seen = errno;  /* the caller's */
    errno = ERANGE; /* this function's */
    return arg;
}

static void *leaves_errno(void *arg) { return arg; }

#ifndef WEAVE_GLIBC_PROBE
static void *blocking_checks(void *arg) {
    int seen = 0;
    errno = 7;
    CHECK(weave_blocking(sets_errno, &seen) == &seen);
    EQ(seen, 7);
    EQ(errno, ERANGE);
    errno = 9;
    CHECK(weave_blocking(leaves_errno, &seen) == &seen);
    EQ(errno, 9);
    return arg;
}
#endif

int main(void) {
    pthread_attr_t a;
    KEPT(pthread_attr_init(&a));
    KEPT(pthread_attr_setstacksize(&a, 128 * 1024));
    KEPT(pthread_attr_setguardsize(&a, 8192));
    KEPT(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_JOINABLE));
    KEPT(pthread_key_create(&key, destructor));
    KEPT(pthread_once(&once, init));
    KEPT(sem_init(&s, 0, 0));
    pthread_t t;
    KEPT(pthread_create(&t, &a, body, NULL));
    KEPT(pthread_attr_destroy(&a));
    KEPT(pthread_mutex_lock(&m));
    while (!flag) KEPT(pthread_cond_wait(&c, &m));
    KEPT(pthread_mutex_unlock(&m));
    KEPT(sem_wait(&s));
    KEPT(pthread_getattr_np(t, &a));
    KEPT(pthread_attr_destroy(&a));
    KEPT(pthread_join(t, NULL));
    KEPT(pthread_getattr_np(pthread_self(), &a));
    KEPT(pthread_attr_destroy(&a));
    KEPT(sched_yield());
    KEPT(usleep(1000));
    KEPT(pthread_setspecific(key, NULL));
    KEPT(pthread_key_delete(key));
    KEPT(sem_destroy(&s));
    KEPT(pthread_mutex_destroy(&m));
    KEPT(pthread_cond_destroy(&c));
    KEPT(pthread_setconcurrency(2));
    KEPT(pthread_create(&t, NULL, leaves_errno, NULL));
    KEPT(pthread_detach(t));

#ifndef WEAVE_GLIBC_PROBE
    /* weave_blocking: errno as if the caller had called the function,
     * from main (where it runs right there) and from a ULT (where it runs
     * on another kernel thread). */
    blocking_checks(NULL);
    void *r;
    EQ(pthread_create(&t, NULL, blocking_checks, NULL), 0);
    EQ(pthread_join(t, &r), 0);
#endif
    return 0;
}
