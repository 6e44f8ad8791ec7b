/* pthread_getattr_np (GNU) on another thread: the stack it reports is the
 * one that thread runs on (its locals lie inside), as the thread itself
 * reads it; for the main thread, asked from another thread, what main
 * reads on itself (glibc's answer: the system's stack of the process),
 * with main joinable. */
#include "check.h"
#include <semaphore.h>

static sem_t started, done;
static char *local_of_child;

static void stack_of(pthread_t t, char **lo, size_t *size, size_t *guard, int *detach) {
    pthread_attr_t a;
    void *p;
    EQ(pthread_getattr_np(t, &a), 0);
    EQ(pthread_attr_getstack(&a, &p, size), 0);
    EQ(pthread_attr_getguardsize(&a, guard), 0);
    EQ(pthread_attr_getdetachstate(&a, detach), 0);
    EQ(pthread_attr_destroy(&a), 0);
    *lo = p;
}

static void *child(void *arg) {
    (void)arg;
    char here = 0;
    local_of_child = &here;
    EQ(sem_post(&started), 0);
    EQ(sem_wait(&done), 0);
    return NULL;
}

struct about_main {
    pthread_t main;
    char *lo;
    size_t size, guard;
    int detach;
};

static void *asks_about_main(void *arg) {
    struct about_main *m = arg;
    stack_of(m->main, &m->lo, &m->size, &m->guard, &m->detach);
    return NULL;
}

int main(void) {
    EQ(sem_init(&started, 0, 0), 0);
    EQ(sem_init(&done, 0, 0), 0);

    /* A ULT, asked by main while it waits. */
    pthread_attr_t a;
    pthread_t t;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setstacksize(&a, 64 * 1024), 0);
    EQ(pthread_create(&t, &a, child, NULL), 0);
    EQ(pthread_attr_destroy(&a), 0);
    EQ(sem_wait(&started), 0);
    char *lo;
    size_t size, guard;
    int detach;
    stack_of(t, &lo, &size, &guard, &detach);
    CHECK(lo != NULL);
    EQ(size, 64 * 1024);
    EQ(detach, PTHREAD_CREATE_JOINABLE);
    CHECK(local_of_child > lo && local_of_child < lo + size);
    EQ(sem_post(&done), 0);
    EQ(pthread_join(t, NULL), 0);

    /* Main, asked by a ULT: as main reads itself. */
    char here = 0;
    char *mlo;
    size_t msize, mguard;
    int mdetach;
    stack_of(pthread_self(), &mlo, &msize, &mguard, &mdetach);
    CHECK(&here > mlo && &here < mlo + msize);
    struct about_main m = {pthread_self(), NULL, 0, 0, -1};
    EQ(pthread_create(&t, NULL, asks_about_main, &m), 0);
    EQ(pthread_join(t, NULL), 0);
    CHECK(m.lo == mlo);
    EQ(m.size, msize);
    EQ(m.guard, mguard);
    EQ(m.detach, PTHREAD_CREATE_JOINABLE);
    EQ(mdetach, PTHREAD_CREATE_JOINABLE);
    return 0;
}
