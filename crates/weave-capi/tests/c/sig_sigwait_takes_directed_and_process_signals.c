/* sigwait (POSIX): selects a pending signal from set, clears it and
 * returns its number in *sig; the signals are blocked beforehand. It
 * takes a signal sent to the thread (pthread_kill) and one sent to the
 * process (kill) that every thread blocks. sigwaitinfo gives the
 * number and its siginfo. */
#include "check.h"

static void *waiter(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    int sig = 0;
    EQ(sigwait(&s, &sig), 0);
    EQ(sig, SIGUSR1);
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    siginfo_t info;
    EQ(sigwaitinfo(&s, &info), SIGUSR2);
    EQ(info.si_signo, SIGUSR2);
    EQ(info.si_pid, getpid());
    return NULL;
}

int main(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, waiter, NULL), 0);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(kill(getpid(), SIGUSR2), 0);
    EQ(pthread_join(t, NULL), 0);
    /* An empty set waits for nothing: EINVAL. */
    sigset_t none;
    sigemptyset(&none);
    int sig;
    EQ(sigwait(&none, &sig), EINVAL);
    return 0;
}
