/* pthread_detach: a detached thread runs to its end and is not joinable;
 * detaching twice is EINVAL, a made-up id ESRCH, and a thread that has
 * finished and been detached leaves a stale id (ESRCH). */
#include "check.h"

static sem_t done;
static sem_t go;

static void *worker(void *arg) {
    (void)arg;
    sem_wait(&go);
    sem_post(&done);
    return NULL;
}

static void *quick(void *arg) {
    (void)arg;
    sem_post(&done);
    return NULL;
}

int main(void) {
    EQ(sem_init(&done, 0, 0), 0);
    EQ(sem_init(&go, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, worker, NULL), 0);
    EQ(pthread_detach(t), 0);
    EQ(pthread_detach(t), EINVAL);
    EQ(pthread_join(t, NULL), EINVAL);
    EQ(sem_post(&go), 0);
    EQ(sem_wait(&done), 0);

    /* Detach after the thread has finished. */
    EQ(pthread_create(&t, NULL, quick, NULL), 0);
    EQ(sem_wait(&done), 0);
    for (int i = 0; i < 20; i++) sched_yield();
    EQ(pthread_detach(t), 0);

    /* Once gone, the id is stale. */
    /* It leaves the thread table just after it finishes (a generous
     * bound: this only turns a thread that never leaves into a failure). */
    for (int i = 0; i < 30000 && pthread_detach(t) != ESRCH; i++) usleep(1000);
    EQ(pthread_detach(t), ESRCH);
    EQ(pthread_detach((pthread_t)0x123456789ULL), ESRCH);
    return 0;
}
