/* A SIGSEGV raised by a thread's memory access (POSIX: generated for the
 * thread that caused it) runs that thread's sigaction handler, with
 * si_addr the faulting address; when the handler returns, the access is
 * retried: here the handler makes the page writable, and the write
 * completes. */
#include "check.h"
#include <sys/mman.h>

static char *page;
static volatile sig_atomic_t faults;
static volatile pthread_t ran_on;
static void *volatile addr;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    (void)uc;
    faults++;
    ran_on = pthread_self();
    addr = info->si_addr;
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

static void *writer(void *arg) {
    (void)arg;
    page[10] = 42;
    return NULL;
}

int main(void) {
    page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    EQ(sigaction(SIGSEGV, &sa, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, writer, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(faults, 1);
    CHECK(pthread_equal(ran_on, t));
    CHECK(addr == page + 10);
    EQ(page[10], 42);
    return 0;
}
