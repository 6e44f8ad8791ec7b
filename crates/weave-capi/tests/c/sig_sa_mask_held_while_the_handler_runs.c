/* sigaction's sa_mask (POSIX): "a set of signals to be blocked during
 * execution of the signal-catching function"; on return the mask is
 * restored and a signal of sa_mask sent meanwhile is delivered then.
 * SIGUSR1's handler has SIGUSR2 in its sa_mask and sends SIGUSR2 to its
 * own thread (pthread_kill) and to the process (kill): neither runs
 * before SIGUSR1's handler has returned, and both have run when the
 * sender is back; sigpending inside the handler shows SIGUSR2. On the
 * main thread and on a created thread (main blocks both signals then, so
 * the process's SIGUSR2 can only go to that thread). */
#include "check.h"

#include <signal.h>

static volatile sig_atomic_t seq, usr1_end, usr2_at[2], usr2_runs, pending_seen, held;

static void on_usr2(int sig) {
    (void)sig;
    if (usr2_runs < 2) usr2_at[usr2_runs] = ++seq;
    usr2_runs++;
}

static void on_usr1(int sig) {
    (void)sig;
    sigset_t cur, pend;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    held = sigismember(&cur, SIGUSR2);
    pthread_kill(pthread_self(), SIGUSR2);
    kill(getpid(), SIGUSR2);
    sigpending(&pend);
    pending_seen = sigismember(&pend, SIGUSR2);
    usr1_end = ++seq;
}

static void one_round(void) {
    seq = usr1_end = usr2_runs = pending_seen = held = 0;
    usr2_at[0] = usr2_at[1] = 0;
    EQ(raise(SIGUSR1), 0);
    /* The two SIGUSR2 may merge into one delivery (a standard signal
     * pending twice is pending once). */
    CHECK(usr2_runs >= 1);
    CHECK(held);
    CHECK(pending_seen);
    EQ(usr1_end, 1);
    EQ(usr2_at[0], 2);
    sigset_t cur;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    CHECK(!sigismember(&cur, SIGUSR1));
    CHECK(!sigismember(&cur, SIGUSR2));
}

static void *thread(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    one_round();
    one_round();
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    EQ(sigaction(SIGUSR2, &sa, NULL), 0);
    sa.sa_handler = on_usr1;
    sigaddset(&sa.sa_mask, SIGUSR2);
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    one_round();

    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, thread, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
