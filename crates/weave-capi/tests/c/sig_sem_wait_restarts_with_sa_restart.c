/* sigaction (POSIX), SA_RESTART: "If set, and a function specified as
 * interruptible is interrupted by this signal, the function shall
 * restart and shall not fail with [EINTR]". sem_wait is such a function
 * (its EINTR: "A signal interrupted this function"): with SA_RESTART the
 * handler runs and sem_wait goes on until the post; without it, EINTR.
 * On a created thread and on the main thread. */
#include "check.h"

static volatile sig_atomic_t ran;
static sem_t sem;
static pthread_t target;

static void handler(int sig) {
    (void)sig;
    ran++;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
}

/* Interrupts `target` once it waits, then (restart) posts once the
 * handler ran. */
static void *interrupter(void *arg) {
    long restart = (long)arg;
    wait_blocked(target);
    EQ(pthread_kill(target, SIGUSR1), 0);
    if (restart) {
        while (!ran) usleep(1000);
        usleep(20000);
        EQ(sem_post(&sem), 0);
    }
    return NULL;
}

static void *waiter(void *arg) {
    long restart = (long)arg;
    errno = 0;
    int r = sem_wait(&sem);
    if (restart) {
        EQ(r, 0);
    } else {
        EQ(r, -1);
        EQ(errno, EINTR);
    }
    EQ(ran, 1);
    return NULL;
}

int main(void) {
    EQ(sem_init(&sem, 0, 0), 0);
    for (long restart = 0; restart < 2; restart++) {
        install(restart ? SA_RESTART : 0);
        /* A created thread waits. */
        ran = 0;
        pthread_t w, i;
        EQ(pthread_create(&w, NULL, waiter, (void *)restart), 0);
        target = w;
        EQ(pthread_create(&i, NULL, interrupter, (void *)restart), 0);
        EQ(pthread_join(w, NULL), 0);
        EQ(pthread_join(i, NULL), 0);
        /* The main thread waits. */
        ran = 0;
        target = pthread_self();
        EQ(pthread_create(&i, NULL, interrupter, (void *)restart), 0);
        waiter((void *)restart);
        EQ(pthread_join(i, NULL), 0);
    }
    return 0;
}
