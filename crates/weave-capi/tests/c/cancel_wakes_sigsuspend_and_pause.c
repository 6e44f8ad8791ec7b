/* sigsuspend and pause are cancellation points (POSIX, "Cancellation
 * Points": both are listed among the functions at which cancellation
 * points shall occur): a thread waiting in one, with deferred
 * cancellation enabled, is cancelled by pthread_cancel, runs its cleanup
 * handler and is joined with PTHREAD_CANCELED, although no signal handler
 * ran. With cancellation disabled, the request does not end the wait: a
 * handler does (EINTR), and the request is acted on once enabled. */
#include "check.h"
#include <signal.h>

static volatile sig_atomic_t caught;
static volatile int cleaned;

static void on_usr1(int sig) { caught = sig; }
static void cleanup(void *arg) { cleaned = (int)(intptr_t)arg; }

static void *suspends(void *arg) {
    (void)arg;
    sigset_t none;
    sigemptyset(&none);
    pthread_cleanup_push(cleanup, (void *)1);
    sigsuspend(&none);
    pthread_cleanup_pop(0);
    return NULL; /* not reached: cancelled in sigsuspend */
}

static void *pauses(void *arg) {
    (void)arg;
    pthread_cleanup_push(cleanup, (void *)2);
    pause();
    pthread_cleanup_pop(0);
    return NULL;
}

static volatile int suspend_result, suspend_errno;

static void *suspends_disabled(void *arg) {
    (void)arg;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
    sigset_t none;
    sigemptyset(&none);
    errno = 0;
    suspend_result = sigsuspend(&none);
    suspend_errno = errno;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL), 0);
    pthread_testcancel();
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);

    pthread_t t;
    void *r;
    void *(*waits[])(void *) = {suspends, pauses};
    for (int i = 0; i < 2; i++) {
        EQ(pthread_create(&t, NULL, waits[i], NULL), 0);
        wait_blocked(t);
        EQ(pthread_cancel(t), 0);
        EQ(pthread_join(t, &r), 0);
        CHECK(r == PTHREAD_CANCELED);
        EQ(cleaned, i + 1);
        EQ(caught, 0);
    }

    EQ(pthread_create(&t, NULL, suspends_disabled, NULL), 0);
    wait_blocked(t);
    EQ(pthread_cancel(t), 0);
    /* Still waiting: the request does not end a wait with cancellation
     * disabled. The handler does. */
    wait_blocked(t);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(suspend_result, -1);
    EQ(suspend_errno, EINTR);
    EQ(caught, SIGUSR1);
    return 0;
}
