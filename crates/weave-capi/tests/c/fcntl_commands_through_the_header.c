/* fcntl(2) is variadic: "The third argument, arg, ... is an int or a
 * pointer, depending on cmd", and some commands take none. Each kind
 * reaches the system as passed: F_GETFL and F_GETFD (no argument),
 * F_SETFL, F_SETFD and F_DUPFD (an int: F_DUPFD returns "the lowest
 * numbered available file descriptor greater than or equal to arg"),
 * F_GETLK and F_SETLK (a struct flock pointer: F_GETLK describes a lock
 * another process holds, or sets l_type to F_UNLCK when none would block),
 * and errors (EBADF, EINVAL) as the system's. */
#include "check.h"
#include <fcntl.h>
#include <sys/wait.h>

static struct flock whole(short type) {
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = type;
    l.l_whence = SEEK_SET;
    return l;
}

int main(void) {
    char path[] = "/tmp/weave-fcntl-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    EQ(unlink(path), 0);

    /* No argument, then an int. */
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0);
    EQ(fl & O_ACCMODE, O_RDWR);
    EQ(fl & (O_NONBLOCK | O_APPEND), 0);
    EQ(fcntl(fd, F_SETFL, fl | O_NONBLOCK | O_APPEND), 0);
    EQ(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_APPEND), O_NONBLOCK | O_APPEND);
    EQ(fcntl(fd, F_SETFL, fl), 0);
    EQ(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_APPEND), 0);

    EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    EQ(fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
    EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

    /* F_DUPFD: at or above its argument, sharing the open file. */
    int d = fcntl(fd, F_DUPFD, 200);
    CHECK(d >= 200);
    EQ(fcntl(d, F_GETFD) & FD_CLOEXEC, 0);
    EQ(fcntl(d, F_SETFL, fl | O_APPEND), 0);
    EQ(fcntl(fd, F_GETFL) & O_APPEND, O_APPEND);
    int d2 = fcntl(fd, F_DUPFD_CLOEXEC, d);
    CHECK(d2 > d);
    EQ(fcntl(d2, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    EQ(close(d2), 0);
    EQ(close(d), 0);
    EQ(fcntl(fd, F_DUPFD, -1), -1);
    EQ(errno, EINVAL);

    /* A pointer: no lock is held, then a child holds one. */
    struct flock l = whole(F_WRLCK);
    EQ(fcntl(fd, F_GETLK, &l), 0);
    EQ(l.l_type, F_UNLCK);

    int go[2], ready[2];
    EQ(pipe(go), 0);
    EQ(pipe(ready), 0);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        struct flock m = whole(F_WRLCK);
        m.l_start = 10;
        m.l_len = 5;
        if (fcntl(fd, F_SETLK, &m) != 0) _exit(2);
        char c = 'h';
        if (write(ready[1], &c, 1) != 1) _exit(3);
        if (read(go[0], &c, 1) != 1) _exit(4);
        _exit(0);
    }
    char c;
    EQ(read(ready[0], &c, 1), 1);
    l = whole(F_RDLCK);
    EQ(fcntl(fd, F_GETLK, &l), 0);
    EQ(l.l_type, F_WRLCK);
    EQ(l.l_pid, p);
    EQ(l.l_start, 10);
    EQ(l.l_len, 5);
    l = whole(F_WRLCK);
    l.l_start = 12;
    l.l_len = 1;
    EQ(fcntl(fd, F_SETLK, &l), -1);
    CHECK(errno == EACCES || errno == EAGAIN);
    l.l_start = 15;
    EQ(fcntl(fd, F_SETLK, &l), 0); /* beside the child's section */
    EQ(write(go[1], "x", 1), 1);
    int st;
    EQ(waitpid(p, &st, 0), p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* Errors: a closed fd, an unknown command. */
    EQ(close(fd), 0);
    EQ(fcntl(fd, F_GETFL), -1);
    EQ(errno, EBADF);
    EQ(fcntl(go[0], 0x7fff), -1);
    EQ(errno, EINVAL);
    EQ(close(go[0]), 0);
    EQ(close(go[1]), 0);
    EQ(close(ready[0]), 0);
    EQ(close(ready[1]), 0);
    return 0;
}
