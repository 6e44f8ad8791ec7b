/* fcntl with F_SETLKW (and F_OFD_SETLKW) is a cancellation point (POSIX
 * lists fcntl "when the cmd argument is F_SETLKW"): a request pending
 * when it is called is acted on, and the lock is not taken. While one
 * thread waits for a lock that another process holds, the others run:
 * with one LWP, the thread that has the holder release it runs while
 * another waits. Other commands (F_SETLK, F_GETFL) are not cancellation
 * points.
 *
 * Under weave the wait runs on its blocking pool, where a request made
 * meanwhile cannot end it: the call returns when the lock is taken (0,
 * the lock held, as a wait that completed keeps its result), and the
 * request is acted on at the next cancellation point. */
#include "check.h"
#include <fcntl.h>
#include <sys/wait.h>

static int fd, to_holder[2], from_holder[2];
static volatile int requested;

static struct flock whole(short type) {
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = type;
    l.l_whence = SEEK_SET;
    return l;
}

/* A child that holds a write lock on the file until told to let go. */
static pid_t holder(void) {
    EQ(pipe(to_holder), 0);
    EQ(pipe(from_holder), 0);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        struct flock l = whole(F_WRLCK);
        if (fcntl(fd, F_SETLK, &l) != 0) _exit(2);
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

static void unlock(void) {
    struct flock l = whole(F_UNLCK);
    EQ(fcntl(fd, F_SETLK, &l), 0);
}

static void *pending(void *arg) {
    int old, cmd = (int)(intptr_t)arg;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    while (!requested) sched_yield();
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    /* Not cancellation points: return as usual. */
    CHECK(fcntl(fd, F_GETFL) >= 0);
    struct flock l = whole(F_WRLCK);
    EQ(fcntl(fd, F_SETLK, &l), 0);
    unlock();
    fcntl(fd, cmd, &l);
    return (void *)1; /* not reached */
}

static void *takes(void *arg) {
    int cmd = (int)(intptr_t)arg;
    struct flock l = whole(F_WRLCK);
    EQ(fcntl(fd, cmd, &l), 0);
    return NULL;
}

static pid_t h;

static void *releases(void *arg) {
    (void)arg;
    let_go(h);
    return NULL;
}

/* A waiter and the thread that releases the lock, on one LWP. */
static void *shares_the_lwp(void *arg) {
    int cmd = (int)(intptr_t)arg;
    h = holder();
    pthread_t w, r;
    EQ(pthread_create(&w, NULL, takes, (void *)(intptr_t)cmd), 0);
#ifdef WEAVE_PTHREAD_H
    wait_blocked_in(w, WEAVE_BLOCK_IO);
#endif
    EQ(pthread_create(&r, NULL, releases, NULL), 0);
    EQ(pthread_join(r, NULL), 0);
    EQ(pthread_join(w, NULL), 0);
    if (cmd == F_SETLKW) {
        unlock();
    } else {
        /* An OFD lock stays with the open file description until
         * unlocked there. */
        struct flock l = whole(F_UNLCK);
        EQ(fcntl(fd, F_OFD_SETLK, &l), 0);
    }
    return NULL;
}

#ifdef WEAVE_PTHREAD_H
static void *cancelled_while_waiting(void *arg) {
    (void)arg;
    struct flock l = whole(F_WRLCK);
    EQ(fcntl(fd, F_SETLKW, &l), 0); /* the lock is held, then: */
    pthread_testcancel();
    return NULL;
}
#endif

int main(void) {
    char path[] = "/tmp/weave-setlkw-XXXXXX";
    fd = mkstemp(path);
    CHECK(fd >= 0);
    EQ(unlink(path), 0);
    EQ(pthread_setconcurrency(1), 0);

    int cmds[2] = {F_SETLKW, F_OFD_SETLKW};
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        requested = 0;
        EQ(pthread_create(&t, NULL, pending, (void *)(intptr_t)cmds[i]), 0);
        EQ(pthread_cancel(t), 0);
        requested = 1;
        void *v;
        EQ(pthread_join(t, &v), 0);
        CHECK(v == PTHREAD_CANCELED);

        EQ(pthread_create(&t, NULL, shares_the_lwp, (void *)(intptr_t)cmds[i]), 0);
        EQ(pthread_join(t, NULL), 0);
    }

#ifdef WEAVE_PTHREAD_H
    h = holder();
    pthread_t t;
    EQ(pthread_create(&t, NULL, cancelled_while_waiting, NULL), 0);
    wait_blocked_in(t, WEAVE_BLOCK_IO);
    EQ(pthread_cancel(t), 0);
    let_go(h);
    void *v;
    EQ(pthread_join(t, &v), 0);
    CHECK(v == PTHREAD_CANCELED);
    unlock();
#endif
    EQ(close(fd), 0);
    return 0;
}
