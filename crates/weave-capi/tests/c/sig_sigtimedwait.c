/* sigtimedwait (POSIX): as sigwaitinfo, but gives up after the relative
 * timeout: -1 with errno EAGAIN when no signal of the set came; a signal
 * that comes in time is returned with its siginfo; EINVAL for a tv_nsec
 * outside 0..1e9. It blocks only the calling thread: with one LWP, a
 * thread behind the waiter sends the signal it waits for. */
#include "check.h"
#include <signal.h>

static void *sender(void *arg) {
    union sigval v;
    v.sival_int = 42;
    EQ(pthread_sigqueue(*(pthread_t *)arg, SIGRTMIN + 3, v), 0);
    return NULL;
}

static void *waiter(void *arg) {
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 3);
    EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    struct timespec short_wait = {0, 20000000L};
    siginfo_t info;
    errno = 0;
    EQ(sigtimedwait(&set, &info, &short_wait), -1);
    EQ(errno, EAGAIN);
    struct timespec bad = {0, 1000000000L};
    errno = 0;
    EQ(sigtimedwait(&set, &info, &bad), -1);
    EQ(errno, EINVAL);
    /* Now a thread queued behind this one sends it. */
    pthread_t s, me = pthread_self();
    EQ(pthread_create(&s, NULL, sender, &me), 0);
    struct timespec long_wait = {60, 0};
    EQ(sigtimedwait(&set, &info, &long_wait), SIGRTMIN + 3);
    EQ(info.si_signo, SIGRTMIN + 3);
    EQ(info.si_value.sival_int, 42);
    EQ(pthread_join(s, NULL), 0);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    pthread_t w;
    EQ(pthread_create(&w, NULL, waiter, NULL), 0);
    EQ(pthread_join(w, NULL), 0);
    return 0;
}
