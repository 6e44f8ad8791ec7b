/* signal (POSIX): returns the previous handler, SIG_ERR and EINVAL for
 * SIGKILL or an invalid number. raise (POSIX): the handler has run when
 * it returns, from main and from a thread, on the calling thread. */
#include "check.h"

static volatile sig_atomic_t runs;
static volatile pthread_t ran_on;

static void handler(int sig) {
    (void)sig;
    ran_on = pthread_self();
    runs++;
}

static void *raiser(void *arg) {
    (void)arg;
    EQ(raise(SIGUSR2), 0);
    EQ(runs, 2);
    CHECK(pthread_equal(ran_on, pthread_self()));
    return NULL;
}

int main(void) {
    CHECK(signal(SIGUSR2, handler) == SIG_DFL);
    CHECK(signal(SIGUSR2, handler) == handler);
    errno = 0;
    CHECK(signal(SIGKILL, handler) == SIG_ERR);
    EQ(errno, EINVAL);
    errno = 0;
    CHECK(signal(0, handler) == SIG_ERR);
    EQ(errno, EINVAL);
    EQ(raise(SIGUSR2), 0);
    EQ(runs, 1);
    CHECK(pthread_equal(ran_on, pthread_self()));
    pthread_t t;
    EQ(pthread_create(&t, NULL, raiser, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    /* SIG_IGN: raising it does nothing. */
    CHECK(signal(SIGUSR2, SIG_IGN) == handler);
    EQ(raise(SIGUSR2), 0);
    EQ(runs, 2);
    return 0;
}
