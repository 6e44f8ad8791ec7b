/* pthread_getattr_np (glibc, pthread_getattr_np(3)) describes a detached
 * thread as it was created: PTHREAD_CREATE_DETACHED, and the stack size
 * and guard size its attributes asked for; a thread detached after its
 * creation (pthread_detach) likewise keeps the attributes it was made
 * with and now reads as detached. */
#include "check.h"

static sem_t go, done;

struct seen {
    size_t stack, guard;
    int detach;
};

static void *look(void *arg) {
    struct seen *s = arg;
    while (sem_wait(&go) != 0) {
    }
    pthread_attr_t mine;
    EQ(pthread_getattr_np(pthread_self(), &mine), 0);
    EQ(pthread_attr_getstacksize(&mine, &s->stack), 0);
    EQ(pthread_attr_getguardsize(&mine, &s->guard), 0);
    EQ(pthread_attr_getdetachstate(&mine, &s->detach), 0);
    EQ(pthread_attr_destroy(&mine), 0);
    EQ(sem_post(&done), 0);
    return NULL;
}

int main(void) {
    EQ(sem_init(&go, 0, 0), 0);
    EQ(sem_init(&done, 0, 0), 0);
    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setstacksize(&a, 256 * 1024), 0);
    EQ(pthread_attr_setguardsize(&a, 8192), 0);

    /* Created detached. */
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    struct seen s1 = {0, 0, -1};
    pthread_t t;
    EQ(pthread_create(&t, &a, look, &s1), 0);
    EQ(sem_post(&go), 0);
    while (sem_wait(&done) != 0) {
    }
    EQ(s1.detach, PTHREAD_CREATE_DETACHED);
    EQ(s1.stack, 256 * 1024);
    EQ(s1.guard, 8192);

    /* Created joinable, then detached. */
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_JOINABLE), 0);
    struct seen s2 = {0, 0, -1};
    EQ(pthread_create(&t, &a, look, &s2), 0);
    EQ(pthread_detach(t), 0);
    EQ(sem_post(&go), 0);
    while (sem_wait(&done) != 0) {
    }
    EQ(s2.detach, PTHREAD_CREATE_DETACHED);
    EQ(s2.stack, 256 * 1024);
    EQ(s2.guard, 8192);
    EQ(pthread_attr_destroy(&a), 0);
    return 0;
}
