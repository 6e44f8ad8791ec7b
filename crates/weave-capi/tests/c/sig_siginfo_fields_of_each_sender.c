/* sigaction with SA_SIGINFO (POSIX): the handler gets a siginfo_t whose
 * si_signo is the signal and whose si_code says how it was sent:
 * SI_USER for kill, SI_QUEUE for sigqueue (with si_value), and, on Linux,
 * SI_TKILL for pthread_kill and raise; for each the sender's si_pid and
 * si_uid. The third argument, the ucontext, is not null. Checked on the
 * main thread and on a created thread, for a signal the thread sends
 * itself and one another thread sends it. */
#include "check.h"

#include <signal.h>

static volatile sig_atomic_t ran;
static volatile int signo, code, value, uc_set;
static volatile pid_t pid;
static volatile uid_t uid;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    signo = info->si_signo;
    code = info->si_code;
    pid = info->si_pid;
    uid = info->si_uid;
    value = info->si_value.sival_int;
    uc_set = uc != NULL;
    ran++;
}

/* The last delivery had these fields (`val` checked for SI_QUEUE). */
static void expect(int want_code, int val) {
    EQ(ran, 1);
    EQ(signo, SIGUSR1);
    EQ(code, want_code);
    EQ(pid, getpid());
    EQ(uid, getuid());
    if (want_code == SI_QUEUE) EQ(value, val);
    CHECK(uc_set);
    ran = 0;
}

/* Each way the calling thread sends SIGUSR1 to itself or its process
 * (every other thread blocks it). Each handler has run as the call
 * returns. */
static void sends_to_itself(void) {
    EQ(raise(SIGUSR1), 0);
    expect(SI_TKILL, 0);
    EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    expect(SI_TKILL, 0);
    EQ(kill(getpid(), SIGUSR1), 0);
    expect(SI_USER, 0);
    union sigval v = {.sival_int = 777};
    EQ(sigqueue(getpid(), SIGUSR1, v), 0);
    expect(SI_QUEUE, 777);
}

static volatile sig_atomic_t step;

static void *thread(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    sends_to_itself();
    /* Main sends one with pthread_kill. */
    step = 1;
    while (!ran) sched_yield();
    expect(SI_TKILL, 0);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sends_to_itself();

    /* On a created thread: main blocks the signal, so that the thread
     * takes the ones sent to the process. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, thread, NULL), 0);
    while (!step) sched_yield();
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);

    /* Back on main: a signal the created thread sent it. */
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    return 0;
}
