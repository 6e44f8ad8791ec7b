/* read(2) acts on the file its fd argument names at the call: "The read()
 * function shall attempt to read nbyte bytes from the file associated with
 * the open file descriptor, fildes". dup2(2): "the file descriptor fildes2
 * ... shall refer to the same open file description as fildes" once it
 * returns; close(2) frees the number, and socketpair(2) may give it to a
 * socket ("the lowest numbered unused file descriptor" for the new fds of
 * open and the calls like it).
 *
 * So one number, read from one thread, names a regular file, then (dup2)
 * a pipe, then (close, socketpair) a socket, then (dup2) a regular file
 * again, and each read behaves as a read of what the number names now:
 * a regular file gives its bytes; an empty pipe and an empty socket make
 * the reader wait, and with one LWP only the reader waits (the thread
 * that writes runs meanwhile; were the LWP blocked, it never could and
 * the program would hang); the socket's SO_RCVTIMEO ends its wait with
 * EAGAIN ("the timeout value that specifies the maximum amount of time an
 * input function waits until it completes", socket(7)), with the other
 * thread run meanwhile. The number changes under the reader by dup2 and
 * by the system's own close (syscall(SYS_close)): calls weave does not
 * wrap. */
#include "check.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/time.h>

static int fd;
static int p[2], sv[2];
static volatile int reading, ticked;

/* Writes `what` to `to` once `reader` waits in the read. */
struct feed {
    pthread_t reader;
    int to;
    const char *what;
};

static void *feeder(void *arg) {
    struct feed *f = arg;
#ifdef WEAVE_PTHREAD_H
    wait_blocked_in(f->reader, WEAVE_BLOCK_NET);
#else
    usleep(100000);
#endif
    EQ(write(f->to, f->what, strlen(f->what)), (ssize_t)strlen(f->what));
    return NULL;
}

/* Notes that it ran after the reader began its read: with one LWP, only
 * while the read waits, if the read lets the LWP run other threads. */
static void *ticker(void *arg) {
    (void)arg;
    while (!reading) sched_yield();
    ticked = 1;
    return NULL;
}

/* A read of `fd` that waits until `to` gets `what` from another thread. */
static void read_waits_for(int to, const char *what) {
    struct feed f = {pthread_self(), to, what};
    pthread_t t;
    EQ(pthread_create(&t, NULL, feeder, &f), 0);
    char buf[16] = {0};
    EQ(read(fd, buf, sizeof buf), (ssize_t)strlen(what));
    CHECK(memcmp(buf, what, strlen(what)) == 0);
    EQ(pthread_join(t, NULL), 0);
}

/* A new regular file holding `text`, its offset at 0. */
static int file_of(const char *text) {
    char path[] = "/tmp/weave-fdkind-XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    EQ(unlink(path), 0);
    EQ(write(f, text, strlen(text)), (ssize_t)strlen(text));
    EQ(lseek(f, 0, SEEK_SET), 0);
    return f;
}

/* Makes `fd` name what `other` names, as dup2 does, and closes `other`
 * with the system's close. */
static void move_to_fd(int other) {
    if (other == fd) return;
    EQ(dup2(other, fd), fd);
    EQ(syscall(SYS_close, other), 0);
}

static void *run(void *arg) {
    (void)arg;
    char buf[16] = {0};

    /* A regular file: its bytes, then end-of-file, twice (the second
     * read of a number already read). */
    fd = file_of("file");
    EQ(read(fd, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "file", 4) == 0);
    EQ(read(fd, buf, sizeof buf), 0);
    EQ(read(fd, buf, sizeof buf), 0);

    /* dup2 a pipe's read end over it: the read waits for the writer. */
    EQ(pipe(p), 0);
    move_to_fd(p[0]);
    read_waits_for(p[1], "pipe");
    read_waits_for(p[1], "again");
    EQ(close(p[1]), 0);
    EQ(read(fd, buf, sizeof buf), 0); /* no writer left */

    /* The system's close, then a socket under the same number. */
    EQ(syscall(SYS_close, fd), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    move_to_fd(sv[0]);
    struct timeval tv = {0, 50000};
    EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, ticker, NULL), 0);
    errno = 0;
    reading = 1;
    EQ(read(fd, buf, sizeof buf), -1);
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    CHECK(ticked); /* it ran while the reader waited */
    EQ(pthread_join(t, NULL), 0);
    read_waits_for(sv[1], "socket");

    /* dup2 a regular file over the socket: its bytes again. */
    move_to_fd(file_of("disk"));
    EQ(read(fd, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "disk", 4) == 0);
    EQ(read(fd, buf, sizeof buf), 0);

    EQ(close(sv[1]), 0);
    EQ(close(fd), 0);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, run, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
