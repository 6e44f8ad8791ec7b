/* close(2) of a socket that another thread is blocked writing to: the
 * writer's call ends at once with -1 and EBADF (write(2): "fildes is not a
 * valid file descriptor open for writing"), nothing of it having been
 * sent, instead of waiting for room on a file that is gone. A later write
 * on the number is EBADF too. */
#include "check.h"

#include <sys/socket.h>
#include <unistd.h>

static int sv[2];
static ssize_t wrote = -2;
static int wrote_errno;

static void *writes(void *arg) {
    (void)arg;
    static char big[65536];
    wrote = write(sv[0], big, sizeof big);
    wrote_errno = errno;
    return NULL;
}

int main(void) {
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* Fill the socket until it has no room: the writer below then waits
     * before sending a byte. */
    char chunk[4096] = {0};
    while (send(sv[0], chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
    }
    EQ(errno, EAGAIN);
    while (send(sv[0], chunk, 1, MSG_DONTWAIT) > 0) {
    }
    EQ(errno, EAGAIN);

    pthread_t t;
    EQ(pthread_create(&t, NULL, writes, NULL), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(close(sv[0]), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(wrote, -1);
    EQ(wrote_errno, EBADF);

    EQ(write(sv[0], "x", 1), -1);
    EQ(errno, EBADF);
    EQ(close(sv[1]), 0);
    return 0;
}
