/* sigaction's flags (POSIX):
 * - without SA_NODEFER the signal is added to the thread's mask while its
 *   handler runs: a second one sent from inside the handler stays pending
 *   and is delivered after the handler returns, when the mask is what it
 *   was before;
 * - with SA_NODEFER it is not: the second one interrupts the handler, which
 *   runs nested, before the send returns;
 * - SA_RESETHAND: the disposition is SIG_DFL on entry to the handler, so
 *   the handler runs once and a second SIGUSR1 ends the process (checked
 *   in a child, with waitpid's WIFSIGNALED and WTERMSIG).
 * Each on the main thread and on a created thread. */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>

static volatile sig_atomic_t runs, depth, max_depth, self_blocked;

static void handler(int sig) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    int d = ++depth;
    if (d > max_depth) max_depth = d;
    if (d == 1) self_blocked = sigismember(&cur, sig);
    if (++runs == 1) {
        /* The second one: nested or pending. pthread_kill is
         * async-signal-safe. */
        EQ(pthread_kill(pthread_self(), sig), 0);
        /* Without SA_NODEFER it has not run yet. */
    }
    depth--;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    runs = 0;
    max_depth = 0;
}

static void not_blocked(void) {
    sigset_t cur;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    CHECK(!sigismember(&cur, SIGUSR1));
}

static void defer_and_nodefer(void) {
    install(0);
    EQ(raise(SIGUSR1), 0);
    EQ(runs, 2);
    EQ(max_depth, 1); /* one after the other */
    CHECK(self_blocked);
    not_blocked();

    install(SA_NODEFER);
    EQ(raise(SIGUSR1), 0);
    EQ(runs, 2);
    EQ(max_depth, 2); /* the second inside the first */
    CHECK(!self_blocked);
    not_blocked();
}

static volatile sig_atomic_t once_runs;

static void once(int sig) {
    (void)sig;
    once_runs++;
}

/* In the child: SA_RESETHAND's handler runs once, then the default
 * action ends the process. Exit codes name the check that failed. */
static void *resethand(void *arg) {
    (void)arg;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = once;
    sa.sa_flags = SA_RESETHAND;
    if (sigaction(SIGUSR1, &sa, NULL) != 0) _exit(10);
    if (raise(SIGUSR1) != 0) _exit(11);
    if (once_runs != 1) _exit(12);
    if (sigaction(SIGUSR1, NULL, &old) != 0 || old.sa_handler != SIG_DFL) _exit(13);
    raise(SIGUSR1);
    _exit(14); /* still alive */
}

static void *resethand_thread(void *arg) {
    (void)arg;
    pthread_t t;
    if (pthread_create(&t, NULL, resethand, NULL) != 0) _exit(20);
    pthread_join(t, NULL);
    _exit(21);
}

static void ends_with_sigusr1(void *(*body)(void *)) {
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) body(NULL);
    int status;
    EQ(waitpid(child, &status, 0), child);
    if (WIFEXITED(status)) EQ(WEXITSTATUS(status), -1);
    CHECK(WIFSIGNALED(status));
    EQ(WTERMSIG(status), SIGUSR1);
}

static void *thread(void *arg) {
    (void)arg;
    defer_and_nodefer();
    return NULL;
}

int main(void) {
    defer_and_nodefer();
    pthread_t t;
    EQ(pthread_create(&t, NULL, thread, NULL), 0);
    EQ(pthread_join(t, NULL), 0);

    ends_with_sigusr1(resethand);
    ends_with_sigusr1(resethand_thread);
    return 0;
}
