/* ppoll and pselect with a mask that lets in a signal already pending for
 * the thread: if an fd is ready at the call, the call returns the ready
 * count (POSIX: they return "the total number of bits set" or ready
 * descriptors once one is ready; Linux looks at the fds before the
 * signals), the handler does not run, and the signal stays pending under
 * the thread's own mask. With no fd ready, the signal is delivered and the
 * call fails with EINTR. */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <sys/select.h>

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static void *calls(void *arg) {
    (void)arg;
    int sv[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sigset_t usr1, open, pend;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&open);
    EQ(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
    EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    EQ(sigpending(&pend), 0);
    CHECK(sigismember(&pend, SIGUSR1));
    EQ(write(sv[1], "x", 1), 1);

    struct pollfd p = {sv[0], POLLIN, 0};
    struct timespec ts = {60, 0};
    EQ(ppoll(&p, 1, &ts, &open), 1);
    EQ(p.revents, POLLIN);
    EQ(handled, 0);
    EQ(sigpending(&pend), 0);
    CHECK(sigismember(&pend, SIGUSR1));

    fd_set r;
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    EQ(pselect(sv[0] + 1, &r, NULL, NULL, &ts, &open), 1);
    CHECK(FD_ISSET(sv[0], &r));
    EQ(handled, 0);
    EQ(sigpending(&pend), 0);
    CHECK(sigismember(&pend, SIGUSR1));

    /* Nothing ready: the signal gets in, EINTR. */
    char c;
    EQ(read(sv[0], &c, 1), 1);
    errno = 0;
    EQ(ppoll(&p, 1, &ts, &open), -1);
    EQ(errno, EINTR);
    EQ(handled, 1);
    EQ(close(sv[0]), 0);
    EQ(close(sv[1]), 0);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, calls, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
