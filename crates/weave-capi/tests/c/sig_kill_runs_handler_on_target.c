/* pthread_kill (POSIX): the signal is directed at the given thread; a
 * handler installed with sigaction runs on it (pthread_self() in the
 * handler is the target), and not on the sender. */
#include "check.h"

static volatile sig_atomic_t ran;
static volatile pthread_t ran_on;

static void handler(int sig) {
    (void)sig;
    ran_on = pthread_self();
    ran = 1;
}

static void *target(void *arg) {
    (void)arg;
    while (!ran)
        sched_yield();
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, target, NULL), 0);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);
    CHECK(ran);
    CHECK(pthread_equal(ran_on, t));
    return 0;
}
