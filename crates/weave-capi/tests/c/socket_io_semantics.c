/* The mapped read/write/recv/send keep the system's meaning: a socket
 * the program made non-blocking gives EAGAIN at once; MSG_DONTWAIT too;
 * a socket with SO_RCVTIMEO gives EAGAIN when it passes; an orderly close
 * reads as 0; a pipe (not a socket) reads and writes as usual. */
#include "check.h"
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static void *body(void *arg) {
    (void)arg;
    int sv[2];
    char buf[16];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

    EQ(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), -1);
    EQ(errno, EAGAIN);

    int fl = fcntl(sv[0], F_GETFL);
    EQ(fcntl(sv[0], F_SETFL, fl | O_NONBLOCK), 0);
    EQ(read(sv[0], buf, sizeof buf), -1);
    EQ(errno, EAGAIN);
    EQ(fcntl(sv[0], F_SETFL, fl), 0);

    struct timeval tv = {0, 20000};
    EQ(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    EQ(read(sv[0], buf, sizeof buf), -1);
    EQ(errno, EAGAIN);

    EQ(send(sv[1], "ab", 2, 0), 2);
    EQ(recv(sv[0], buf, sizeof buf, 0), 2);
    CHECK(memcmp(buf, "ab", 2) == 0);
    EQ(close(sv[1]), 0);
    EQ(read(sv[0], buf, sizeof buf), 0);
    close(sv[0]);

    int p[2];
    EQ(pipe(p), 0);
    EQ(write(p[1], "xyz", 3), 3);
    EQ(read(p[0], buf, sizeof buf), 3);
    CHECK(memcmp(buf, "xyz", 3) == 0);
    EQ(read(12345, buf, 1), -1);
    EQ(errno, EBADF);
    return NULL;
}

int main(void) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, body, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
