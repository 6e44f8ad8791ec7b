/* Objects destroyed, and their memory freed, at the first moment POSIX
 * allows, while woken threads (and the waker) may still be inside the
 * calls that used them:
 * - pthread_cond_destroy: "A condition variable can be destroyed
 *   immediately after all the threads that are blocked on it are
 *   awakened" (its page's example) -- here right after the broadcast;
 * - sem_destroy: "It is safe to destroy an initialized semaphore upon
 *   which no threads are currently blocked" -- here right after the
 *   waiter's sem_wait returned, while the poster may be in sem_post;
 * - pthread_barrier_destroy by the thread the barrier let through, while
 *   the others may still be leaving their pthread_barrier_wait.
 * The freed memory is overwritten each round: a call still using it would
 * read garbage (a crash, a hang, a wrong result). */
#include "check.h"

struct cond_obj {
    pthread_mutex_t m;
    pthread_cond_t c;
    int go, waiting;
};

static void *cond_waiter(void *arg) {
    struct cond_obj *o = arg;
    EQ(pthread_mutex_lock(&o->m), 0);
    o->waiting++;
    while (!o->go) EQ(pthread_cond_wait(&o->c, &o->m), 0);
    EQ(pthread_mutex_unlock(&o->m), 0);
    return NULL;
}

struct sem_obj {
    sem_t s;
};

static void *poster(void *arg) {
    struct sem_obj *o = arg;
    EQ(sem_post(&o->s), 0);
    return NULL;
}

struct barrier_obj {
    pthread_barrier_t b;
    int left; /* threads still to return from the wait, under `lock` */
};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *barrier_waiter(void *arg) {
    struct barrier_obj *o = arg;
    int r = pthread_barrier_wait(&o->b);
    CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
    EQ(pthread_mutex_lock(&lock), 0);
    int last = --o->left == 0;
    EQ(pthread_mutex_unlock(&lock), 0);
    /* The last to return destroys it: the others have returned. The one
     * the barrier let through first may still be inside its wait. */
    if (last) {
        EQ(pthread_barrier_destroy(&o->b), 0);
        memset(o, 0xAB, sizeof *o);
        free(o);
    }
    return NULL;
}

int main(void) {
    for (int round = 0; round < 500; round++) {
        struct cond_obj *o = calloc(1, sizeof *o);
        CHECK(o != NULL);
        EQ(pthread_mutex_init(&o->m, NULL), 0);
        EQ(pthread_cond_init(&o->c, NULL), 0);
        pthread_t t[3];
        for (int i = 0; i < 3; i++) EQ(pthread_create(&t[i], NULL, cond_waiter, o), 0);
        for (;;) {
            EQ(pthread_mutex_lock(&o->m), 0);
            int n = o->waiting;
            if (n == 3) break;
            EQ(pthread_mutex_unlock(&o->m), 0);
            sched_yield();
        }
        o->go = 1;
        EQ(pthread_cond_broadcast(&o->c), 0);
        EQ(pthread_cond_destroy(&o->c), 0);
        memset(&o->c, 0xAB, sizeof o->c);
        EQ(pthread_mutex_unlock(&o->m), 0);
        for (int i = 0; i < 3; i++) EQ(pthread_join(t[i], NULL), 0);
        EQ(pthread_mutex_destroy(&o->m), 0);
        free(o);
    }
    for (int round = 0; round < 500; round++) {
        struct sem_obj *o = calloc(1, sizeof *o);
        CHECK(o != NULL);
        EQ(sem_init(&o->s, 0, 0), 0);
        pthread_t t;
        EQ(pthread_create(&t, NULL, poster, o), 0);
        EQ(sem_wait(&o->s), 0);
        EQ(sem_destroy(&o->s), 0);
        memset(o, 0xAB, sizeof *o);
        free(o);
        EQ(pthread_join(t, NULL), 0);
    }
    for (int round = 0; round < 500; round++) {
        struct barrier_obj *o = calloc(1, sizeof *o);
        CHECK(o != NULL);
        EQ(pthread_barrier_init(&o->b, NULL, 3), 0);
        o->left = 3;
        pthread_t t[3];
        for (int i = 0; i < 3; i++) EQ(pthread_create(&t[i], NULL, barrier_waiter, o), 0);
        for (int i = 0; i < 3; i++) EQ(pthread_join(t[i], NULL), 0);
    }
    return 0;
}
