/* read(2) and write(2) on a pipe in blocking mode: "When attempting to
 * read from an empty pipe or FIFO: ... If some process has the pipe open
 * for writing and O_NONBLOCK is clear, read() shall block the calling
 * thread until some data is written or the pipe is closed by all
 * processes that had the pipe open for writing", and then "read() shall
 * return 0 to indicate end-of-file". A blocking write to a full pipe waits
 * until all of it is written. Only the calling thread blocks: with one
 * LWP, the other side of the pipe runs on the same LWP while a thread
 * waits (were the LWP blocked, the other side could never run and the
 * program would hang). The same for readv/writev, and for an eventfd,
 * whose read waits for a non-zero counter (eventfd(2)).
 *
 * O_NONBLOCK is never set on the file by the wait: the program still sees
 * its own flags. */
#include "check.h"
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/uio.h>

static int p[2];

static void *reader(void *arg) {
    (void)arg;
    char buf[8] = {0};
    EQ(read(p[0], buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    /* The writer closes its end: end-of-file. */
    EQ(read(p[0], buf, sizeof buf), 0);
    return NULL;
}

static void *writer(void *r) {
#ifdef WEAVE_PTHREAD_H
    wait_blocked_in(*(pthread_t *)r, WEAVE_BLOCK_NET);
#else
    (void)r;
    usleep(100000);
#endif
    /* The reader waits without making the file non-blocking. */
    EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    EQ(write(p[1], "hello", 5), 5);
    sched_yield();
    EQ(close(p[1]), 0);
    return NULL;
}

#define BIG (1 << 20)

static unsigned char sent[BIG], got[BIG];

/* Writes more than the pipe holds: waits (the thread only) while it is
 * full, until the reader has taken it all. */
static void *big_writer(void *arg) {
    (void)arg;
    struct iovec v[2] = {{sent, BIG / 3}, {sent + BIG / 3, BIG - BIG / 3}};
    EQ(writev(p[1], v, 2), BIG);
    EQ(close(p[1]), 0);
    return NULL;
}

static void *big_reader(void *arg) {
    (void)arg;
    size_t n = 0;
    for (;;) {
        struct iovec v[2] = {{got + n, (BIG - n) / 2}, {got + n + (BIG - n) / 2, BIG - n - (BIG - n) / 2}};
        ssize_t r = n < BIG ? readv(p[0], v, 2) : read(p[0], got, 1);
        CHECK(r >= 0);
        if (r == 0) break;
        n += (size_t)r;
        CHECK(n <= BIG);
    }
    EQ(n, BIG);
    CHECK(memcmp(sent, got, BIG) == 0);
    return NULL;
}

static int efd;

static void *event_reader(void *arg) {
    (void)arg;
    uint64_t v = 0;
    EQ(read(efd, &v, sizeof v), 8);
    EQ(v, 42);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);

    EQ(pipe(p), 0);
    pthread_t r, w;
    EQ(pthread_create(&r, NULL, reader, NULL), 0);
    EQ(pthread_create(&w, NULL, writer, &r), 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(pthread_join(r, NULL), 0);
    EQ(close(p[0]), 0);

    /* The writer first: it fills the pipe and waits for the reader. */
    for (size_t i = 0; i < BIG; i++) sent[i] = (unsigned char)(i * 7 + i / 4096);
    EQ(pipe(p), 0);
    EQ(pthread_create(&w, NULL, big_writer, NULL), 0);
#ifdef WEAVE_PTHREAD_H
    wait_blocked_in(w, WEAVE_BLOCK_NET);
#endif
    EQ(pthread_create(&r, NULL, big_reader, NULL), 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(pthread_join(r, NULL), 0);
    EQ(close(p[0]), 0);

    efd = eventfd(0, 0);
    CHECK(efd >= 0);
    EQ(pthread_create(&r, NULL, event_reader, NULL), 0);
#ifdef WEAVE_PTHREAD_H
    wait_blocked_in(r, WEAVE_BLOCK_NET);
#endif
    uint64_t v = 42;
    EQ(write(efd, &v, sizeof v), 8);
    EQ(pthread_join(r, NULL), 0);
    EQ(close(efd), 0);
    return 0;
}
