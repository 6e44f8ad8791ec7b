/* abort (POSIX): "shall cause abnormal process termination to occur,
 * unless the signal SIGABRT is being caught and the signal handler does
 * not return"; SIGABRT is sent to the calling thread as if by raise. A
 * created thread calls abort: its SIGABRT handler runs on that thread and
 * returns, and the process then ends by SIGABRT (waitpid: WIFSIGNALED,
 * WTERMSIG). Checked in a child process; the handler reports to the
 * parent through a pipe. */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>

static int report;
static pthread_t aborter;

static void on_abrt(int sig) {
    (void)sig;
    char c = pthread_equal(pthread_self(), aborter) ? 'T' : 'X';
    (void)!write(report, &c, 1);
}

static void *aborts(void *arg) {
    (void)arg;
    abort();
}

static void child_main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abrt;
    if (sigaction(SIGABRT, &sa, NULL) != 0) _exit(10);
    /* Main blocks SIGABRT, so that only the aborting thread can take it. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_attr_t a;
    pthread_attr_init(&a);
    sigemptyset(&s);
    EQ(pthread_attr_setsigmask_np(&a, &s), 0);
    if (pthread_create(&aborter, &a, aborts, NULL) != 0) _exit(11);
    pthread_join(aborter, NULL);
    _exit(12);
}

static void run(void) {
    int p[2];
    EQ(pipe(p), 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        close(p[0]);
        report = p[1];
        child_main();
    }
    close(p[1]);
    int status;
    EQ(waitpid(child, &status, 0), child);
    if (WIFEXITED(status)) EQ(WEXITSTATUS(status), -1);
    CHECK(WIFSIGNALED(status));
    EQ(WTERMSIG(status), SIGABRT);
    char got[2];
    ssize_t n = read(p[0], got, 2);
    EQ(n, 1);
    EQ(got[0], 'T');
    close(p[0]);
}

int main(void) {
    run();
    return 0;
}
