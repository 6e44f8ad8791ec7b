/* sem_wait (POSIX): fails with EINTR when "a signal interrupted this
 * function"; the handler has run by then, and no permit was taken. */
#include "check.h"

static volatile sig_atomic_t ran;
static sem_t sem;

static void handler(int sig) {
    (void)sig;
    ran = 1;
}

static void *waiter(void *arg) {
    (void)arg;
    errno = 0;
    int r = sem_wait(&sem);
    EQ(r, -1);
    EQ(errno, EINTR);
    CHECK(ran);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EQ(sem_init(&sem, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, waiter, NULL), 0);
    /* Wait until the waiter is blocked in sem_wait: weave's thread table
     * shows it. */
    for (;;) {
        int blocked = 0;
        weave_thread_info rows[64];
        size_t n = weave_thread_table(rows, 64);
        for (size_t i = 0; i < n && i < 64; i++)
            if (pthread_equal(rows[i].id, t) && rows[i].state == WEAVE_THREAD_BLOCKED)
                blocked = 1;
        if (blocked)
            break;
        usleep(1000);
    }
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);
    int v;
    EQ(sem_getvalue(&sem, &v), 0);
    EQ(v, 0);
    return 0;
}
