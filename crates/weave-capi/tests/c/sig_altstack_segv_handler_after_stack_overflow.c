/* sigaltstack and SA_ONSTACK (POSIX sigaltstack, sigaction): a thread
 * that overflows its stack can still take the SIGSEGV if it set an
 * alternate signal stack and the handler was installed with SA_ONSTACK;
 * the handler runs on that stack (sigaltstack reports SS_ONSTACK there,
 * and refuses a change with EPERM), and leaves with siglongjmp, or ends
 * the process with _exit. sigaltstack's other answers: SS_DISABLE for a
 * new thread (which does not inherit its creator's), ENOMEM below
 * MINSIGSTKSZ, EINVAL for an unknown flag. Each overflow runs in a child
 * process. */
#include "check.h"

#include <setjmp.h>
#include <sys/wait.h>

#define ALT (64 * 1024)

static char alt[ALT] __attribute__((aligned(16)));
static sigjmp_buf env;
static volatile sig_atomic_t on_alt, flagged, eperm, exit_in_handler;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)info;
    (void)uc;
    char local;
    on_alt = &local >= alt && &local < alt + ALT && sig == SIGSEGV;
    stack_t cur;
    flagged = sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK) != 0;
    stack_t other = {.ss_sp = alt, .ss_size = ALT, .ss_flags = 0};
    eperm = sigaltstack(&other, NULL) == -1 && errno == EPERM;
    if (exit_in_handler) _exit(on_alt && flagged && eperm ? 42 : 1);
    siglongjmp(env, 1);
}

/* Never returns: each frame keeps a buffer, and the addition after the
 * call keeps it from becoming a loop. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(volatile char *up) {
    volatile char buf[512];
    buf[0] = up ? up[0] + 1 : 0;
    return recurse(buf) + buf[1];
}

static void *overflow(void *arg) {
    (void)arg;
    stack_t cur;
    EQ(sigaltstack(NULL, &cur), 0);
    CHECK(cur.ss_flags & SS_DISABLE);
    stack_t small = {.ss_sp = alt, .ss_size = 16, .ss_flags = 0};
    EQ(sigaltstack(&small, NULL), -1);
    EQ(errno, ENOMEM);
    stack_t bad = {.ss_sp = alt, .ss_size = ALT, .ss_flags = 0x100};
    EQ(sigaltstack(&bad, NULL), -1);
    EQ(errno, EINVAL);
    stack_t ss = {.ss_sp = alt, .ss_size = ALT, .ss_flags = 0};
    EQ(sigaltstack(&ss, NULL), 0);
    EQ(sigaltstack(NULL, &cur), 0);
    CHECK(cur.ss_sp == alt);
    EQ(cur.ss_size, ALT);
    EQ(cur.ss_flags, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    EQ(sigaction(SIGSEGV, &sa, NULL), 0);
    for (int round = 0; round < 2; round++) {
        on_alt = flagged = eperm = 0;
        if (sigsetjmp(env, 1) == 0) {
            recurse(NULL);
            CHECK(!"the recursion returned");
        }
        CHECK(on_alt);
        CHECK(flagged);
        CHECK(eperm);
        /* Back on the thread's stack. */
        EQ(sigaltstack(NULL, &cur), 0);
        EQ(cur.ss_flags & SS_ONSTACK, 0);
    }
    exit_in_handler = 1;
    recurse(NULL);
    return NULL;
}

int main(void) {
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        pthread_attr_t a;
        EQ(pthread_attr_init(&a), 0);
        EQ(pthread_attr_setstacksize(&a, 256 * 1024), 0);
        pthread_t t;
        EQ(pthread_create(&t, &a, overflow, NULL), 0);
        pthread_join(t, NULL);
        _exit(2); /* the thread's handler ends the process */
    }
    int status;
    EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status));
    EQ(WEXITSTATUS(status), 42);
    return 0;
}
