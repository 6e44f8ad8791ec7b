/* pthread_cancel of a thread blocked in sem_wait or sem_timedwait on a
 * named semaphore (sem_open): both are cancellation points (POSIX), so the
 * thread is cancelled (its join gets PTHREAD_CANCELED) without taking a
 * permit: one posted afterwards is still there. */
#include "check.h"

#include <fcntl.h>

static sem_t *named;

static void *waits(void *arg) {
    (void)arg;
    sem_wait(named);
    return (void *)1; /* not reached when cancelled */
}

static void *waits_timed(void *arg) {
    (void)arg;
    struct timespec at = after_ms(CLOCK_REALTIME, 600000);
    sem_timedwait(named, &at);
    return (void *)1;
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/weave-cancel-named-%d", (int)getpid());
    named = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    CHECK(named != SEM_FAILED);
    EQ(sem_unlink(name), 0);

    void *(*bodies[2])(void *) = {waits, waits_timed};
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        EQ(pthread_create(&t, NULL, bodies[i], NULL), 0);
        wait_blocked(t);
        EQ(pthread_cancel(t), 0);
        void *r;
        EQ(pthread_join(t, &r), 0);
        CHECK(r == PTHREAD_CANCELED);
    }
    int v = -1;
    EQ(sem_getvalue(named, &v), 0);
    EQ(v, 0);
    EQ(sem_post(named), 0);
    EQ(sem_trywait(named), 0);
    EQ(sem_close(named), 0);
    return 0;
}
