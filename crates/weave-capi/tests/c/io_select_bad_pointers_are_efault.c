/* poll, ppoll, select and pselect given memory they cannot read or write
 * (a made-up pointer for an fd set, the pollfd array or the signal mask;
 * an fd set in read-only memory) fail with -1 and EFAULT
 * (POSIX leaves it undefined; Linux answers EFAULT): the call never
 * crashes the program. (A made-up timeout pointer is left out: glibc's
 * own select converts the timeout before the system call, and crashes.)
 * Checked on a created thread (a ULT under weave,
 * whose calls wait in weave's reactor) and on main. */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/select.h>

/* Made-up, and hidden from the compiler, which would refuse it. */
static void *volatile bad = (void *)1;
#define BAD bad

static void calls(int created) {
    int sv[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fd_set r;
    struct timeval tv = {0, 100000};
    struct timespec ts = {0, 100000000};
    sigset_t none;
    sigemptyset(&none);

    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    errno = 0;
    EQ(select(sv[0] + 1, BAD, NULL, NULL, &tv), -1);
    EQ(errno, EFAULT);
    errno = 0;
    EQ(select(sv[0] + 1, &r, BAD, NULL, &tv), -1);
    EQ(errno, EFAULT);
    errno = 0;
    EQ(select(sv[0] + 1, &r, NULL, BAD, NULL), -1);
    EQ(errno, EFAULT);
    errno = 0;
    EQ(pselect(sv[0] + 1, BAD, NULL, NULL, &ts, NULL), -1);
    EQ(errno, EFAULT);
    errno = 0;
    EQ(pselect(sv[0] + 1, &r, NULL, NULL, &ts, BAD), -1);
    EQ(errno, EFAULT);

    /* A set the call may read but not write back. */
    fd_set *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro != MAP_FAILED);
    FD_ZERO(ro);
    FD_SET(sv[0], ro);
    EQ(mprotect(ro, 4096, PROT_READ), 0);
    errno = 0;
    EQ(select(sv[0] + 1, ro, NULL, NULL, &tv), -1);
    EQ(errno, EFAULT);
    CHECK(FD_ISSET(sv[0], ro));
    EQ(munmap(ro, 4096), 0);

    struct pollfd p = {sv[0], POLLIN, 0};
    errno = 0;
    EQ(poll(BAD, 1, 100), -1);
    EQ(errno, EFAULT);
    errno = 0;
    EQ(ppoll(BAD, 1, &ts, NULL), -1);
    EQ(errno, EFAULT);
    errno = 0;
    EQ(ppoll(&p, 1, &ts, BAD), -1);
    EQ(errno, EFAULT);

#ifdef WEAVE_PTHREAD_H
    /* A timeout select may read but not write back: the time left is
     * not written, and nothing crashes. weave's select on a created
     * thread only: glibc's own, which main's is, writes it back itself,
     * and crashes. */
    if (created) {
        struct timeval *rot = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(rot != MAP_FAILED);
        rot->tv_sec = 0;
        rot->tv_usec = 1000;
        EQ(mprotect(rot, 4096, PROT_READ), 0);
        FD_ZERO(&r);
        FD_SET(sv[0], &r);
        EQ(select(sv[0] + 1, &r, NULL, NULL, rot), 0);
        EQ(rot->tv_usec, 1000);
        EQ(munmap(rot, 4096), 0);
        FD_ZERO(&r);
        FD_SET(sv[0], &r);
    }
#else
    (void)created;
#endif

    /* The same calls with good arguments time out as usual. */
    tv.tv_usec = 1000;
    EQ(select(sv[0] + 1, &r, NULL, NULL, &tv), 0);
    EQ(ppoll(&p, 1, &ts, &none), 0);
    EQ(close(sv[0]), 0);
    EQ(close(sv[1]), 0);
}

static void *on_thread(void *arg) {
    (void)arg;
    calls(1);
    return NULL;
}

int main(void) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, on_thread, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    calls(0);
    return 0;
}
