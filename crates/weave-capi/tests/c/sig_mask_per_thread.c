/* pthread_sigmask (POSIX): changes the calling thread's mask only; how is
 * SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK; the old mask is stored when oset
 * is given; with set NULL, how is ignored and the mask is only read; a
 * new thread inherits its creator's mask; an invalid how is EINVAL. */
#include "check.h"

static int blocked(int sig) {
    sigset_t cur;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    return sigismember(&cur, sig);
}

static void *child(void *arg) {
    (void)arg;
    CHECK(blocked(SIGUSR1)); /* inherited */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigset_t old;
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, &old), 0);
    CHECK(sigismember(&old, SIGUSR1));
    CHECK(!blocked(SIGUSR1));
    return NULL;
}

int main(void) {
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &s, &old), 0);
    CHECK(!sigismember(&old, SIGUSR1));
    CHECK(blocked(SIGUSR1));
    pthread_t t;
    EQ(pthread_create(&t, NULL, child, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    CHECK(blocked(SIGUSR1)); /* the child's change was its own */
    /* SIG_SETMASK replaces; a bad how is EINVAL and changes nothing. */
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    EQ(pthread_sigmask(SIG_SETMASK, &s, NULL), 0);
    CHECK(blocked(SIGUSR2) && !blocked(SIGUSR1));
    EQ(pthread_sigmask(12345, &s, NULL), EINVAL);
    /* With set NULL, how is not looked at. */
    EQ(pthread_sigmask(12345, NULL, &old), 0);
    CHECK(sigismember(&old, SIGUSR2));
    /* sigprocmask: the same, with -1 and errno. */
    errno = 0;
    EQ(sigprocmask(12345, &s, NULL), -1);
    EQ(errno, EINVAL);
    return 0;
}
