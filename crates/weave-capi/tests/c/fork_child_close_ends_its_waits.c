/* In the child of fork() (whose only thread is the one that forked,
 * POSIX), socket reads block only the calling ULT and close(2) ends a
 * read blocked on the fd it closes with EBADF, as in the parent, although
 * the parent had a thread blocked in a read when it forked. */
#include "check.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int p[2];
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    struct reader parent_reader = {p[0], {0}, -2, 0};
    pthread_t pr;
    EQ(pthread_create(&pr, NULL, reads, &parent_reader), 0);
    wait_blocked_in(pr, WEAVE_BLOCK_NET);

    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        int c[2];
        EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
        struct reader r = {c[0], {0}, -2, 0};
        pthread_t t;
        EQ(pthread_create(&t, NULL, reads, &r), 0);
        wait_blocked_in(t, WEAVE_BLOCK_NET);
        EQ(close(c[0]), 0);
        EQ(pthread_join(t, NULL), 0);
        EQ(r.n, -1);
        EQ(r.err, EBADF);
        _exit(0);
    }
    int status;
    EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status));
    EQ(WEXITSTATUS(status), 0);

    EQ(write(p[1], "up", 2), 2);
    EQ(pthread_join(pr, NULL), 0);
    EQ(parent_reader.n, 2);
    return 0;
}
