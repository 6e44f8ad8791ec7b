/* pthread_getattr_default_np / pthread_setattr_default_np (glibc 2.18,
 * pthread_getattr_default_np(3)): the default attributes are the ones a
 * pthread_create with a NULL attr uses; setting them changes what such a
 * create makes (here: detached, with a given stack size), and get returns
 * what was set. Attributes with a stack address are EINVAL. */
#include "check.h"

static sem_t done;
static size_t seen_stack;
static int seen_detach = -1;

static void *look(void *arg) {
    (void)arg;
    pthread_attr_t mine;
    EQ(pthread_getattr_np(pthread_self(), &mine), 0);
    EQ(pthread_attr_getstacksize(&mine, &seen_stack), 0);
    EQ(pthread_attr_getdetachstate(&mine, &seen_detach), 0);
    EQ(pthread_attr_destroy(&mine), 0);
    EQ(sem_post(&done), 0);
    return NULL;
}

int main(void) {
    EQ(sem_init(&done, 0, 0), 0);
    pthread_attr_t d;
    int v;
    size_t size;
    EQ(pthread_getattr_default_np(&d), 0);
    EQ(pthread_attr_getdetachstate(&d, &v), 0);
    EQ(v, PTHREAD_CREATE_JOINABLE);
    EQ(pthread_attr_getinheritsched(&d, &v), 0);
    EQ(v, PTHREAD_INHERIT_SCHED);
    EQ(pthread_attr_getstacksize(&d, &size), 0);
    CHECK(size >= (size_t)PTHREAD_STACK_MIN);
    EQ(pthread_attr_destroy(&d), 0);

    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    EQ(pthread_attr_setstacksize(&a, 192 * 1024), 0);
    EQ(pthread_setattr_default_np(&a), 0);

    EQ(pthread_getattr_default_np(&d), 0);
    EQ(pthread_attr_getdetachstate(&d, &v), 0);
    EQ(v, PTHREAD_CREATE_DETACHED);
    EQ(pthread_attr_getstacksize(&d, &size), 0);
    EQ(size, 192 * 1024);
    EQ(pthread_attr_destroy(&d), 0);

    /* A create with NULL attributes makes a detached thread with that
     * stack size. */
    pthread_t t;
    EQ(pthread_create(&t, NULL, look, NULL), 0);
    while (sem_wait(&done) != 0) {
    }
    EQ(seen_stack, 192 * 1024);
    EQ(seen_detach, PTHREAD_CREATE_DETACHED);

    /* A stack address is refused; the defaults stay. */
    static char stack[64 * 1024];
    pthread_attr_t s;
    EQ(pthread_attr_init(&s), 0);
    EQ(pthread_attr_setstack(&s, stack, sizeof stack), 0);
    EQ(pthread_setattr_default_np(&s), EINVAL);
    EQ(pthread_getattr_default_np(&d), 0);
    EQ(pthread_attr_getdetachstate(&d, &v), 0);
    EQ(v, PTHREAD_CREATE_DETACHED);

    /* Back to joinable defaults: a NULL create is joinable again. */
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_JOINABLE), 0);
    EQ(pthread_setattr_default_np(&a), 0);
    EQ(pthread_create(&t, NULL, look, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(seen_detach, PTHREAD_CREATE_JOINABLE);
    return 0;
}
