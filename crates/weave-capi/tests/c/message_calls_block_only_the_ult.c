/* recvfrom, recvmsg, readv, sendto, sendmsg, writev and accept4 on
 * sockets in blocking mode (POSIX: "shall block until a message arrives"
 * / "until space is available") block only the calling thread: with one
 * LWP, the thread that sends, reads or connects runs while another waits.
 * A stream writev of more than the buffer holds writes it all; recvmsg
 * with MSG_WAITALL fills its buffers; SO_RCVTIMEO still ends a wait with
 * EAGAIN; MSG_DONTWAIT and a non-blocking socket get EAGAIN at once;
 * close by another thread ends a wait with EBADF. */
#include "check.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include <sys/un.h>

static int dg[2], st[2], lfd, closing;
static char big[1 << 21];
static volatile int stage;

static void *receiver(void *arg) {
    (void)arg;
    char buf[16] = {0};
    /* recvfrom on a datagram socket: the sender's message. */
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    EQ(recvfrom(dg[0], buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), 3);
    CHECK(memcmp(buf, "one", 3) == 0);
    /* recvmsg with MSG_WAITALL on a stream: 6 bytes sent in two parts. */
    char a[2], b[4];
    struct iovec iov[2] = {{a, 2}, {b, 4}};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    stage = 1;
    EQ(recvmsg(st[0], &m, MSG_WAITALL), 6);
    CHECK(memcmp(a, "ab", 2) == 0 && memcmp(b, "cdef", 4) == 0);
    /* readv on a stream: what is there. */
    stage = 2;
    struct iovec one = {buf, sizeof buf};
    EQ(readv(st[0], &one, 1), 4);
    CHECK(memcmp(buf, "tail", 4) == 0);
    /* accept4 with SOCK_NONBLOCK: the new socket is non-blocking. */
    stage = 3;
    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK(c >= 0);
    CHECK(fcntl(c, F_GETFL) & O_NONBLOCK);
    EQ(close(c), 0);
    return NULL;
}

static void *sender(void *t) {
    pthread_t r = *(pthread_t *)t;
    wait_blocked_in(r, WEAVE_BLOCK_NET);
    EQ(sendto(dg[1], "one", 3, 0, NULL, 0), 3);
    while (stage != 1) sched_yield();
    wait_blocked_in(r, WEAVE_BLOCK_NET);
    struct iovec i1 = {"ab", 2};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &i1;
    m.msg_iovlen = 1;
    EQ(sendmsg(st[1], &m, 0), 2);
    wait_blocked_in(r, WEAVE_BLOCK_NET);
    EQ(send(st[1], "cdef", 4, 0), 4);
    while (stage != 2) sched_yield();
    wait_blocked_in(r, WEAVE_BLOCK_NET);
    struct iovec i2 = {"tail", 4};
    EQ(writev(st[1], &i2, 1), 4);
    while (stage != 3) sched_yield();
    wait_blocked_in(r, WEAVE_BLOCK_NET);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    EQ(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    EQ(connect(c, (struct sockaddr *)&a, al), 0);
    EQ(close(c), 0);
    return NULL;
}

/* Reads 2 MiB from st[0] while the main thread's writev sends it. */
static void *drains(void *arg) {
    (void)arg;
    size_t got = 0;
    char buf[65536];
    while (got < sizeof big) {
        ssize_t n = read(st[0], buf, sizeof buf);
        CHECK(n > 0);
        got += n;
    }
    return NULL;
}

static void *closed_under(void *arg) {
    (void)arg;
    char buf[4];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    EQ(recvmsg(closing, &m, 0), -1);
    EQ(errno, EBADF);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, dg), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, st), 0);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EQ(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    EQ(listen(lfd, 4), 0);

    pthread_t r, s;
    EQ(pthread_create(&r, NULL, receiver, NULL), 0);
    EQ(pthread_create(&s, NULL, sender, &r), 0);
    EQ(pthread_join(s, NULL), 0);
    EQ(pthread_join(r, NULL), 0);

    /* A stream writev of more than the buffer: all of it, as the reader
     * (another thread on the same LWP) drains it. */
    pthread_t d;
    EQ(pthread_create(&d, NULL, drains, NULL), 0);
    struct iovec halves[2] = {{big, sizeof big / 2}, {big + sizeof big / 2, sizeof big / 2}};
    EQ(writev(st[1], halves, 2), (ssize_t)sizeof big);
    EQ(pthread_join(d, NULL), 0);

    /* The socket's receive timeout, MSG_DONTWAIT, a non-blocking socket. */
    struct timeval tv = {0, 20000};
    EQ(setsockopt(dg[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    char buf[4];
    EQ(recvfrom(dg[0], buf, sizeof buf, 0, NULL, NULL), -1);
    EQ(errno, EAGAIN);
    EQ(recvfrom(st[0], buf, sizeof buf, MSG_DONTWAIT, NULL, NULL), -1);
    EQ(errno, EAGAIN);
    EQ(fcntl(st[0], F_SETFL, O_NONBLOCK), 0);
    struct iovec iov = {buf, sizeof buf};
    EQ(readv(st[0], &iov, 1), -1);
    EQ(errno, EAGAIN);

    /* close under a waiting recvmsg: EBADF. */
    int pair[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    closing = pair[0];
    pthread_t c;
    EQ(pthread_create(&c, NULL, closed_under, NULL), 0);
    wait_blocked_in(c, WEAVE_BLOCK_NET);
    EQ(close(pair[0]), 0);
    EQ(pthread_join(c, NULL), 0);
    return 0;
}
