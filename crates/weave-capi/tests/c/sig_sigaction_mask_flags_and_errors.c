/* sigaction (POSIX): while the handler runs, the thread's mask is the one
 * it had, plus sa_mask, plus the signal itself (unless SA_NODEFER);
 * afterwards the mask is what it was; oact receives the previous action
 * (handler, sa_mask, flags); the action of SIGKILL or SIGSTOP cannot be
 * changed, and invalid signal numbers are EINVAL. */
#include "check.h"

static volatile sig_atomic_t had_self, had_usr2, ran;

static void handler(int sig) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    had_self = sigismember(&cur, sig);
    had_usr2 = sigismember(&cur, SIGUSR2);
    ran = 1;
}

static void other(int sig) {
    (void)sig;
}

int main(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    EQ(sigaction(SIGUSR1, &sa, &old), 0);
    CHECK(old.sa_handler == SIG_DFL);
    EQ(raise(SIGUSR1), 0);
    CHECK(ran);
    CHECK(had_self);
    CHECK(had_usr2);
    sigset_t cur;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    CHECK(!sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2));
    /* SA_NODEFER: the signal itself is not blocked. */
    sa.sa_flags = SA_NODEFER;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    ran = 0;
    EQ(raise(SIGUSR1), 0);
    CHECK(ran);
    CHECK(!had_self);
    /* oact reports what is installed. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = other;
    EQ(sigaction(SIGUSR1, &sa, &old), 0);
    CHECK(old.sa_handler == handler);
    CHECK(old.sa_flags & SA_NODEFER);
    CHECK(sigismember(&old.sa_mask, SIGUSR2));
    EQ(sigaction(SIGUSR1, NULL, &old), 0);
    CHECK(old.sa_handler == other);
    /* Errors. */
    errno = 0;
    EQ(sigaction(SIGKILL, &sa, NULL), -1);
    EQ(errno, EINVAL);
    errno = 0;
    EQ(sigaction(SIGSTOP, &sa, NULL), -1);
    EQ(errno, EINVAL);
    errno = 0;
    EQ(sigaction(0, &sa, NULL), -1);
    EQ(errno, EINVAL);
    errno = 0;
    EQ(sigaction(65, &sa, NULL), -1);
    EQ(errno, EINVAL);
    /* SIGKILL's action can be read. */
    EQ(sigaction(SIGKILL, NULL, &old), 0);
    CHECK(old.sa_handler == SIG_DFL);
    return 0;
}
