/* sigaction with SA_RESETHAND (POSIX): the disposition is reset to
 * SIG_DFL on entry to the handler, so the handler runs once and the
 * action reads back as SIG_DFL. */
#include "check.h"

static volatile sig_atomic_t runs;

static void handler(int sig) {
    (void)sig;
    runs++;
}

int main(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESETHAND;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EQ(raise(SIGUSR1), 0);
    EQ(runs, 1);
    EQ(sigaction(SIGUSR1, NULL, &old), 0);
    CHECK(old.sa_handler == SIG_DFL);
    return 0;
}
