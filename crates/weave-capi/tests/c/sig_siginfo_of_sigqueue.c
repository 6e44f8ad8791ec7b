/* sigaction with SA_SIGINFO and sigqueue (POSIX): the handler gets
 * si_signo, si_code SI_QUEUE, the sender's pid and the value sent, also
 * when the signal is sent to the process and a ULT takes it. */
#include "check.h"

static volatile sig_atomic_t ran;
static volatile int signo, code, value;
static volatile pid_t pid;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    (void)uc;
    signo = info->si_signo;
    code = info->si_code;
    pid = info->si_pid;
    value = info->si_value.sival_int;
    ran = 1;
}

static void *taker(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    while (!ran)
        sched_yield();
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0); /* only the ULT takes it */
    pthread_t t;
    EQ(pthread_create(&t, NULL, taker, NULL), 0);
    union sigval v = {.sival_int = 4242};
    EQ(sigqueue(getpid(), SIGUSR1, v), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(signo, SIGUSR1);
    EQ(code, SI_QUEUE);
    EQ(pid, getpid());
    EQ(value, 4242);
    return 0;
}
