/* sigaction (POSIX), SIGCHLD's flags: with SA_NOCLDSTOP "SIGCHLD shall
 * not be generated for the calling process whenever any of its child
 * processes stop"; with SA_NOCLDWAIT "the system shall not create zombie
 * processes when children of the calling process exit": a later wait
 * fails with ECHILD. Both are reported back in oact's sa_flags. The
 * handler is a C handler, which weave runs. */
#include "check.h"
#include <sys/wait.h>

static volatile sig_atomic_t chld;

static void on_chld(int sig) {
    (void)sig;
    chld++;
}

static void install(int flags) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = flags;
    EQ(sigaction(SIGCHLD, &sa, NULL), 0);
    EQ(sigaction(SIGCHLD, NULL, &old), 0);
    EQ(old.sa_flags & (SA_NOCLDSTOP | SA_NOCLDWAIT), flags);
}

int main(void) {
    /* SA_NOCLDSTOP: a child that stops sends nothing; one that ends does. */
    install(SA_NOCLDSTOP);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        raise(SIGSTOP);
        _exit(0);
    }
    int status;
    EQ(waitpid(p, &status, WUNTRACED), p);
    CHECK(WIFSTOPPED(status));
    usleep(100000);
    EQ(chld, 0);
    EQ(kill(p, SIGCONT), 0);
    EQ(waitpid(p, &status, 0), p);
    while (chld == 0) usleep(1000);

    /* SA_NOCLDWAIT: no zombie; waitpid finds no child. */
    install(SA_NOCLDWAIT);
    chld = 0;
    p = fork();
    CHECK(p >= 0);
    if (p == 0) _exit(0);
    errno = 0;
    EQ(waitpid(p, NULL, 0), -1);
    EQ(errno, ECHILD);
    return 0;
}
