/* pthread_kill to a thread that blocks the signal leaves it pending on
 * that thread; pthread_sigmask (POSIX): "If there are any pending
 * unblocked signals after the call, at least one of those signals shall
 * be delivered before the call to pthread_sigmask() returns." */
#include "check.h"

static volatile sig_atomic_t runs;
static sem_t sent;

static void handler(int sig) {
    (void)sig;
    runs++;
}

static void *target(void *arg) {
    (void)arg;
    while (sem_wait(&sent) != 0)
        ;
    int before = runs;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    int after = runs;
    EQ(before, 0);
    EQ(after, 1);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0); /* the target inherits it */
    EQ(sem_init(&sent, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, target, NULL), 0);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(sem_post(&sent), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(runs, 1);
    return 0;
}
