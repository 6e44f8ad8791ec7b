/* close(2) ends the calls blocked on the fd it closes, and only those
 * (close: "the file descriptor ... shall be deallocated"; the open file
 * description stays while another descriptor refers to it). A thread
 * blocked reading a dup of the same socket keeps waiting, and reads the
 * data written afterwards; the peer does not see the socket closed. */
#include "check.h"

#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int sv[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int copy = dup(sv[0]);
    CHECK(copy >= 0);

    struct reader on_closed = {sv[0], {0}, -2, 0};
    struct reader on_copy = {copy, {0}, -2, 0};
    pthread_t a, b;
    EQ(pthread_create(&a, NULL, reads, &on_closed), 0);
    EQ(pthread_create(&b, NULL, reads, &on_copy), 0);
    wait_blocked_in(a, WEAVE_BLOCK_NET);
    wait_blocked_in(b, WEAVE_BLOCK_NET);

    EQ(close(sv[0]), 0);
    EQ(pthread_join(a, NULL), 0);
    EQ(on_closed.n, -1);
    EQ(on_closed.err, EBADF);

    /* The reader of the copy is still waiting, and gets the data. */
    wait_blocked_in(b, WEAVE_BLOCK_NET);
    EQ(write(sv[1], "copy", 4), 4);
    EQ(pthread_join(b, NULL), 0);
    EQ(on_copy.n, 4);
    CHECK(memcmp(on_copy.got, "copy", 4) == 0);

    /* The socket is open: the peer's write goes through, the copy reads
     * it, and closing the last copy gives the peer end of file. */
    EQ(write(sv[1], "more", 4), 4);
    char buf[8];
    EQ(read(copy, buf, sizeof buf), 4);
    EQ(close(copy), 0);
    EQ(read(sv[1], buf, sizeof buf), 0);
    EQ(close(sv[1]), 0);
    return 0;
}
