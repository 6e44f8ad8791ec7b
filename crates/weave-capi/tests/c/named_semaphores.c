/* Named semaphores (sem_open) work through the header: sem_wait,
 * sem_trywait, sem_timedwait, sem_post and sem_getvalue act on them as
 * the system does, and a thread waiting on one blocks only itself: with
 * one LWP, another thread still runs and posts. sem_close and
 * sem_unlink succeed. */
#include "check.h"
#include <fcntl.h>
#include <semaphore.h>
#include <unistd.h>

static sem_t *s;

static void *waiter(void *arg) {
    (void)arg;
    EQ(sem_wait(s), 0);
    return NULL;
}

static void *poster(void *w) {
    wait_blocked_in(*(pthread_t *)w, WEAVE_BLOCK_IO);
    EQ(sem_post(s), 0);
    return NULL;
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/weave-named-%d", (int)getpid());
    s = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    CHECK(s != SEM_FAILED);
    int v = -1;
    EQ(sem_getvalue(s, &v), 0);
    EQ(v, 1);
    EQ(sem_wait(s), 0);
    EQ(sem_trywait(s), -1);
    EQ(errno, EAGAIN);
    struct timespec at = after_ms(CLOCK_REALTIME, 20);
    EQ(sem_timedwait(s, &at), -1);
    EQ(errno, ETIMEDOUT);

    EQ(pthread_setconcurrency(1), 0);
    pthread_t w, p;
    EQ(pthread_create(&w, NULL, waiter, NULL), 0);
    EQ(pthread_create(&p, NULL, poster, &w), 0);
    EQ(pthread_join(p, NULL), 0);
    EQ(pthread_join(w, NULL), 0);

    EQ(sem_close(s), 0);
    EQ(sem_unlink(name), 0);
    return 0;
}
