/* A closed fd's number, reused at once by a new socket, belongs to the new
 * file only: a thread blocked there gets the new socket's data, and
 * nothing of the old file, which a dup keeps open and whose peer writes
 * meanwhile (close: the descriptor is deallocated and "made available for
 * return by subsequent calls to open() or other functions that allocate
 * file descriptors"). The thread that was blocked on the old number when it
 * was closed got EBADF. Round after round, so that a registration of the
 * old file left under the number would show. */
#include "check.h"

#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    for (int round = 0; round < 50; round++) {
        int old[2];
        EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, old), 0);
        int keep = dup(old[0]); /* the old file stays open */
        CHECK(keep >= 0);
        struct reader first = {old[0], {0}, -2, 0};
        pthread_t a;
        EQ(pthread_create(&a, NULL, reads, &first), 0);
        wait_blocked_in(a, WEAVE_BLOCK_NET);
        int number = old[0];
        EQ(close(old[0]), 0);
        EQ(pthread_join(a, NULL), 0);
        EQ(first.n, -1);
        EQ(first.err, EBADF);

        int now[2];
        pair_with_end_at(now, number);
        struct reader second = {now[0], {0}, -2, 0};
        pthread_t b;
        EQ(pthread_create(&b, NULL, reads, &second), 0);
        wait_blocked_in(b, WEAVE_BLOCK_NET);
        /* The old file becomes readable: not the new one's business. */
        EQ(write(old[1], "old!", 4), 4);
        wait_blocked_in(b, WEAVE_BLOCK_NET);
        EQ(write(now[1], "new!", 4), 4);
        EQ(pthread_join(b, NULL), 0);
        EQ(second.n, 4);
        CHECK(memcmp(second.got, "new!", 4) == 0);

        char buf[8];
        EQ(read(keep, buf, sizeof buf), 4);
        CHECK(memcmp(buf, "old!", 4) == 0);
        EQ(close(keep), 0);
        EQ(close(old[1]), 0);
        EQ(close(now[0]), 0);
        EQ(close(now[1]), 0);
    }
    return 0;
}
