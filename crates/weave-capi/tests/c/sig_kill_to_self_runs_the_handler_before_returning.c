/* kill (POSIX): "If the value of pid causes sig to be generated for the
 * sending process, and if sig is not blocked for the calling thread and if
 * no other thread has sig unblocked or is waiting in a sigwait() function
 * for sig, either sig or at least one pending unblocked signal shall be
 * delivered to the sending thread before kill() returns." Here the main
 * thread is the program's only thread; the same holds for sigqueue, whose
 * value reaches an SA_SIGINFO handler with si_code SI_QUEUE. Afterwards
 * the signal is not left blocked. */
#include "check.h"

static volatile sig_atomic_t ran, code, value, pid_ok;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    (void)uc;
    ran++;
    code = info->si_code;
    value = info->si_value.sival_int;
    pid_ok = info->si_pid == getpid();
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EQ(kill(getpid(), SIGUSR1), 0);
    EQ(ran, 1);
    EQ(code, SI_USER);
    CHECK(pid_ok);
    union sigval v = {.sival_int = 42};
    EQ(sigqueue(getpid(), SIGUSR1, v), 0);
    EQ(ran, 2);
    EQ(code, SI_QUEUE);
    EQ(value, 42);
    sigset_t cur;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    EQ(sigismember(&cur, SIGUSR1), 0);
    EQ(raise(SIGUSR1), 0);
    EQ(ran, 3);
    return 0;
}
