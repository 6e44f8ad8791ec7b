/* sigpending (POSIX): "the set of signals that are blocked from delivery
 * and pending on either the process or the calling thread". A signal sent
 * to one thread (raise, pthread_kill) while it blocks it is pending for
 * that thread only; one sent to the process (kill) while every thread
 * blocks it is pending for each of them. A pending signal that is not
 * blocked is not reported (it is delivered). */
#include "check.h"

static volatile sig_atomic_t ran;
static sem_t step, done;

static void handler(int sig) {
    (void)sig;
    ran++;
}

static int pending(int sig) {
    sigset_t p;
    EQ(sigpending(&p), 0);
    return sigismember(&p, sig);
}

static void *thread(void *arg) {
    (void)arg;
    /* Inherits the block of SIGUSR1 and SIGUSR2 from main. */
    EQ(raise(SIGUSR2), 0);
    CHECK(pending(SIGUSR2));
    EQ(pending(SIGUSR1), 0);
    EQ(sem_post(&step), 0);
    /* main now sends SIGUSR1 to the process. */
    while (sem_wait(&done) != 0) {
    }
    /* weave passes a process signal between threads before it settles as
     * pending (its case 4): poll for it. */
    for (int i = 0; i < 5000 && !pending(SIGUSR1); i++) usleep(1000);
    CHECK(pending(SIGUSR1));
    CHECK(pending(SIGUSR2));
    /* Unblocked: delivered here, pending no more. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    EQ(ran, 1);
    EQ(pending(SIGUSR2), 0);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EQ(sigaction(SIGUSR2, &sa, NULL), 0);
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGUSR2);
    EQ(pthread_sigmask(SIG_BLOCK, &both, NULL), 0);
    EQ(sem_init(&step, 0, 0), 0);
    EQ(sem_init(&done, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, thread, NULL), 0);
    while (sem_wait(&step) != 0) {
    }
    /* The thread's SIGUSR2 is its own. */
    EQ(pending(SIGUSR2), 0);
    EQ(kill(getpid(), SIGUSR1), 0);
    /* Pending for the process: every thread sees it. */
    for (int i = 0; i < 5000 && !pending(SIGUSR1); i++) usleep(1000);
    CHECK(pending(SIGUSR1));
    EQ(sem_post(&done), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(ran, 1);
    /* Take the process's SIGUSR1 here. */
    int sig;
    EQ(sigwait(&both, &sig), 0);
    EQ(sig, SIGUSR1);
    EQ(pending(SIGUSR1), 0);
    return 0;
}
