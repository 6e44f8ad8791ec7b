/* pthread_cond_destroy: while a thread is blocked on the condition
 * variable (in pthread_cond_wait or pthread_cond_timedwait) and no signal
 * or broadcast has woken it, destroy fails with EBUSY and the condition
 * variable stays usable; once every blocked thread has been woken, it may
 * be destroyed at once, even before the woken threads have returned. */
#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c;
static int go;

static void *wait_for_go(void *arg) {
    int timed = arg != NULL;
    EQ(pthread_mutex_lock(&m), 0);
    while (!go) {
        if (timed) {
            struct timespec t = after_ms(CLOCK_REALTIME, 60000);
            EQ(pthread_cond_timedwait(&c, &m, &t), 0);
        } else {
            EQ(pthread_cond_wait(&c, &m), 0);
        }
    }
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

int main(void) {
    for (int timed = 0; timed < 2; timed++) {
        EQ(pthread_cond_init(&c, NULL), 0);
        go = 0;
        pthread_t t;
        EQ(pthread_create(&t, NULL, wait_for_go, timed ? &c : NULL), 0);
        wait_blocked_in(t, WEAVE_BLOCK_CONDVAR);
        EQ(pthread_cond_destroy(&c), EBUSY);
        EQ(pthread_mutex_lock(&m), 0);
        go = 1;
        EQ(pthread_cond_signal(&c), 0);
        /* Woken (it cannot return yet: this thread holds the mutex). */
        EQ(pthread_cond_destroy(&c), 0);
        EQ(pthread_mutex_unlock(&m), 0);
        EQ(pthread_join(t, NULL), 0);
    }

    /* A static initialiser with nobody waiting is destroyed at once. */
    pthread_cond_t s = PTHREAD_COND_INITIALIZER;
    EQ(pthread_cond_signal(&s), 0);
    EQ(pthread_cond_destroy(&s), 0);
    return 0;
}
