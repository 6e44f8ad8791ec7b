/* raise (POSIX): "the effect of the raise() function shall be equivalent
 * to calling pthread_kill(pthread_self(), sig)", and "if the signal
 * causes a signal handler to be called, raise() shall not return until
 * after the signal handler does". signal (POSIX): returns the previous
 * disposition (handler, SIG_DFL or SIG_IGN), whoever set it (sigaction
 * too). Several created threads, none of which blocks SIGUSR1 (nor does
 * main), each raise it many times: each raise has run the handler on the
 * raising thread when it returns, and no other. */
#include "check.h"

#include <signal.h>

#define THREADS 8
#define ROUNDS 200

static pthread_t ids[THREADS];
static volatile sig_atomic_t count[THREADS], wrong;

static void handler(int sig) {
    (void)sig;
    pthread_t me = pthread_self();
    for (int i = 0; i < THREADS; i++)
        if (pthread_equal(ids[i], me)) {
            count[i]++;
            return;
        }
    wrong++;
}

static void other(int sig) {
    (void)sig;
}

static volatile sig_atomic_t started;

static void *raiser(void *arg) {
    long i = (long)arg;
    ids[i] = pthread_self();
    started++;
    while (started < THREADS) sched_yield();
    for (int r = 1; r <= ROUNDS; r++) {
        EQ(raise(SIGUSR1), 0);
        EQ(count[i], r);
        if (r % 16 == 0) sched_yield();
    }
    return NULL;
}

int main(void) {
    /* signal's previous disposition, whoever set it. */
    CHECK(signal(SIGUSR1, SIG_IGN) == SIG_DFL);
    CHECK(signal(SIGUSR1, other) == SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    CHECK(signal(SIGUSR1, other) == handler);
    CHECK(signal(SIGUSR1, handler) == other);

    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) EQ(pthread_create(&t[i], NULL, raiser, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) EQ(pthread_join(t[i], NULL), 0);
    EQ(wrong, 0);
    CHECK(signal(SIGUSR1, SIG_DFL) == handler);
    return 0;
}
