/* MSG_WAITALL asks a receive to wait for the full amount on a stream
 * socket only: on a datagram socket (and a sequenced-packet one) recv,
 * recvfrom and recvmsg with MSG_WAITALL return one message, shorter than
 * the buffer, and do not wait for another (POSIX: "for message-based
 * sockets ... a full message is returned"). On a stream socket the
 * receive waits until the buffer is full. */
#include "check.h"
#include <netinet/in.h>
#include <sys/uio.h>

static void one_message_each(int type) {
    int sv[2];
    char buf[64];
    EQ(socketpair(AF_UNIX, type, 0, sv), 0);
    EQ(send(sv[1], "abc", 3, 0), 3);
    EQ(recv(sv[0], buf, sizeof buf, MSG_WAITALL), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    EQ(send(sv[1], "defg", 4, 0), 4);
    EQ(recvfrom(sv[0], buf, sizeof buf, MSG_WAITALL, NULL, NULL), 4);
    CHECK(memcmp(buf, "defg", 4) == 0);
    EQ(send(sv[1], "hi", 2, 0), 2);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    EQ(recvmsg(sv[0], &m, MSG_WAITALL), 2);
    CHECK(memcmp(buf, "hi", 2) == 0);
    EQ(close(sv[0]), 0);
    EQ(close(sv[1]), 0);
}

static void *stream_writer(void *arg) {
    int fd = (int)(intptr_t)arg;
    EQ(send(fd, "12", 2, 0), 2);
    sched_yield();
    EQ(send(fd, "345", 3, 0), 3);
    return NULL;
}

static void *run(void *arg) {
    (void)arg;
    one_message_each(SOCK_DGRAM);
    one_message_each(SOCK_SEQPACKET);

    /* UDP on loopback. */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(u >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EQ(bind(u, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    EQ(getsockname(u, (struct sockaddr *)&a, &alen), 0);
    EQ(sendto(u, "udp", 3, 0, (struct sockaddr *)&a, sizeof a), 3);
    char buf[64];
    EQ(recv(u, buf, sizeof buf, MSG_WAITALL), 3);
    EQ(close(u), 0);

    /* A stream receive waits for the whole buffer. */
    int sv[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pthread_t w;
    EQ(pthread_create(&w, NULL, stream_writer, (void *)(intptr_t)sv[1]), 0);
    EQ(recv(sv[0], buf, 5, MSG_WAITALL), 5);
    CHECK(memcmp(buf, "12345", 5) == 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(close(sv[0]), 0);
    EQ(close(sv[1]), 0);
    return NULL;
}

int main(void) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, run, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
