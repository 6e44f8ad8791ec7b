/* lockf(3): "F_LOCK: Lock a section for exclusive use. ... If a section
 * ... is locked by another process, F_LOCK shall block until that section
 * becomes available", and lockf is a cancellation point ("lockf() when
 * the function argument is F_LOCK" is listed as one that may be; weave
 * makes it one as fcntl(F_SETLKW)). While one thread waits for a lock
 * another process holds, the others run: with one LWP, the thread that
 * has the holder let go runs while another waits (were the LWP blocked,
 * the program would hang). F_TLOCK on a held section fails at once
 * (EACCES or EAGAIN), and F_TEST reports it.
 *
 * Under weave the wait runs on its blocking pool, where a request made
 * meanwhile cannot end it: the call returns when the lock is taken (0,
 * the lock held), and the request is acted on at the next cancellation
 * point, as for fcntl(F_SETLKW). */
#include "check.h"
#include <fcntl.h>
#include <sys/wait.h>

static int fd, to_holder[2], from_holder[2];
static volatile int requested;

/* A child that holds a lock on the whole file until told to let go. */
static pid_t holder(void) {
    EQ(pipe(to_holder), 0);
    EQ(pipe(from_holder), 0);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        if (lseek(fd, 0, SEEK_SET) != 0 || lockf(fd, F_TLOCK, 0) != 0) _exit(2);
        char c = 'h';
        if (write(from_holder[1], &c, 1) != 1) _exit(3);
        if (read(to_holder[0], &c, 1) != 1) _exit(4);
        _exit(0);
    }
    char c;
    EQ(read(from_holder[0], &c, 1), 1);
    return p;
}

static void let_go(pid_t p) {
    EQ(write(to_holder[1], "x", 1), 1);
    int st;
    EQ(waitpid(p, &st, 0), p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EQ(close(to_holder[0]), 0);
    EQ(close(to_holder[1]), 0);
    EQ(close(from_holder[0]), 0);
    EQ(close(from_holder[1]), 0);
}

static void *takes(void *arg) {
    (void)arg;
    EQ(lockf(fd, F_LOCK, 0), 0);
    EQ(lockf(fd, F_ULOCK, 0), 0);
    return NULL;
}

static pid_t h;

static void *releases(void *arg) {
    (void)arg;
    let_go(h);
    return NULL;
}

static void *pending(void *arg) {
    (void)arg;
    int old;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    while (!requested) sched_yield();
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    lockf(fd, F_LOCK, 0);
    return (void *)1; /* not reached */
}

#ifdef WEAVE_PTHREAD_H
static void *cancelled_while_waiting(void *arg) {
    (void)arg;
    EQ(lockf(fd, F_LOCK, 0), 0); /* the lock is held, then: */
    pthread_testcancel();
    return NULL;
}
#endif

int main(void) {
    char path[] = "/tmp/weave-lockf-XXXXXX";
    fd = mkstemp(path);
    CHECK(fd >= 0);
    EQ(unlink(path), 0);
    EQ(pthread_setconcurrency(1), 0);

    /* Held by the child: F_TLOCK and F_TEST say so at once. */
    h = holder();
    EQ(lockf(fd, F_TLOCK, 0), -1);
    CHECK(errno == EACCES || errno == EAGAIN);
    EQ(lockf(fd, F_TEST, 0), -1);
    CHECK(errno == EACCES || errno == EAGAIN);

    /* A waiter and the thread that has the holder let go, on one LWP. */
    pthread_t w, r;
    EQ(pthread_create(&w, NULL, takes, NULL), 0);
#ifdef WEAVE_PTHREAD_H
    wait_blocked_in(w, WEAVE_BLOCK_IO);
#endif
    EQ(pthread_create(&r, NULL, releases, NULL), 0);
    EQ(pthread_join(r, NULL), 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(lockf(fd, F_TEST, 0), 0);

    /* A request pending at the call is acted on; the lock is not taken. */
    pthread_t t;
    void *v;
    requested = 0;
    EQ(pthread_create(&t, NULL, pending, NULL), 0);
    EQ(pthread_cancel(t), 0);
    requested = 1;
    EQ(pthread_join(t, &v), 0);
    CHECK(v == PTHREAD_CANCELED);

#ifdef WEAVE_PTHREAD_H
    /* A request made during the wait: acted on at the next point. */
    h = holder();
    EQ(pthread_create(&t, NULL, cancelled_while_waiting, NULL), 0);
    wait_blocked_in(t, WEAVE_BLOCK_IO);
    EQ(pthread_cancel(t), 0);
    let_go(h);
    EQ(pthread_join(t, &v), 0);
    CHECK(v == PTHREAD_CANCELED);
    EQ(lockf(fd, F_ULOCK, 0), 0);
#endif
    EQ(close(fd), 0);
    return 0;
}
