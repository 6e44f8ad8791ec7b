/* sigwait on the main thread, an OS thread rather than a ULT (POSIX: "the
 * signals defined by set shall have been blocked at the time of the call
 * to sigwait()"; it selects a pending signal from set, clears it and
 * returns its number). A signal sent to the main thread (pthread_kill) or
 * to the process (kill) before the wait is pending there and taken at
 * once; one sent by another thread during the wait ends it. The mask is
 * the same after the wait as before, so a signal sent after it stays
 * pending, and its handler does not run. */
#include "check.h"

static pthread_t main_thread;
static volatile sig_atomic_t handled;

static void on_usr(int sig) {
    (void)sig;
    handled = 1;
}

static void *sends_later(void *arg) {
    (void)arg;
    wait_blocked(main_thread);
    EQ(pthread_kill(main_thread, SIGUSR2), 0);
    return NULL;
}

int main(void) {
    main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EQ(sigaction(SIGUSR2, &sa, NULL), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    int sig = 0;

    /* Pending before the wait: sent to the thread, then to the process. */
    EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    EQ(sigwait(&s, &sig), 0);
    EQ(sig, SIGUSR1);
    EQ(kill(getpid(), SIGUSR2), 0);
    EQ(sigwait(&s, &sig), 0);
    EQ(sig, SIGUSR2);

    /* Sent by another thread while the main thread waits. */
    pthread_t t;
    EQ(pthread_create(&t, NULL, sends_later, NULL), 0);
    EQ(sigwait(&s, &sig), 0);
    EQ(sig, SIGUSR2);
    EQ(pthread_join(t, NULL), 0);

    /* The mask is as before the waits: both still blocked. */
    sigset_t now;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
    EQ(sigismember(&now, SIGUSR1), 1);
    EQ(sigismember(&now, SIGUSR2), 1);
    /* Nothing left over: a zero-timeout sigtimedwait finds nothing. */
    struct timespec zero = {0, 0};
    EQ(sigtimedwait(&s, NULL, &zero), -1);
    EQ(errno, EAGAIN);
    /* Sent after the waits: pending, its handler not run, and the next
     * sigwait takes it. */
    EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    EQ(handled, 0);
    EQ(sigwait(&s, &sig), 0);
    EQ(sig, SIGUSR1);
    EQ(handled, 0);
    return 0;
}
