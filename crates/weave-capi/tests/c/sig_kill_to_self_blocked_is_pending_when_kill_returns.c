/* sigpending (POSIX): "the set of signals that are blocked from delivery
 * and pending on either the process or the calling thread". kill: a
 * signal sent to the process is generated (pending) when kill returns, so
 * a thread that blocks it, like every other thread, finds it in
 * sigpending right after its kill, with no wait; sigwait then takes it,
 * and it is pending no more. Checked many times, from a created thread
 * and from main, with other threads that block it too. */
#include "check.h"

static sigset_t usr;
static volatile sig_atomic_t ran;

static void handler(int sig) {
    (void)sig;
    ran++;
}

static int pending(int sig) {
    sigset_t p;
    EQ(sigpending(&p), 0);
    return sigismember(&p, sig);
}

static void rounds(void) {
    for (int i = 0; i < 2000; i++) {
        int sig = i % 2 ? SIGUSR1 : SIGUSR2;
        EQ(kill(getpid(), sig), 0);
        CHECK(pending(sig));
        int got = 0;
        EQ(sigwait(&usr, &got), 0);
        EQ(got, sig);
        EQ(pending(sig), 0);
    }
}

static void *sender(void *arg) {
    (void)arg;
    rounds();
    return NULL;
}

static void *idle(void *arg) {
    sem_t *stop = arg;
    while (sem_wait(stop) != 0) {
    }
    return NULL;
}

int main(void) {
    EQ(signal(SIGUSR1, handler) == SIG_ERR, 0);
    EQ(signal(SIGUSR2, handler) == SIG_ERR, 0);
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    sigaddset(&usr, SIGUSR2);
    EQ(pthread_sigmask(SIG_BLOCK, &usr, NULL), 0);
    sem_t stop;
    EQ(sem_init(&stop, 0, 0), 0);
    pthread_t others[4];
    for (int i = 0; i < 4; i++) EQ(pthread_create(&others[i], NULL, idle, &stop), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, sender, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    rounds();
    for (int i = 0; i < 4; i++) EQ(sem_post(&stop), 0);
    for (int i = 0; i < 4; i++) EQ(pthread_join(others[i], NULL), 0);
    /* Every signal went to sigwait, none to the handler. */
    EQ(ran, 0);
    return 0;
}
