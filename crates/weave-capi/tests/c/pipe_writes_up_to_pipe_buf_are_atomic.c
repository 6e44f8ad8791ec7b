/* write(2): "Write requests of {PIPE_BUF} bytes or less shall not be
 * interleaved with data from other processes doing writes on the same
 * pipe", and with O_NONBLOCK clear such a write that does not fit waits
 * for room rather than writing part. Several threads write records of
 * PIPE_BUF bytes (and small ones) to one pipe that is mostly full, so
 * they wait for room again and again; the reader finds every record
 * whole. Run on one LWP and on two. */
#include "check.h"
#include <limits.h>

#define WRITERS 4
#define RECORDS 300

static int p[2];

/* A record: its size, then size-1 bytes of the writer's letter. Sizes
 * go from PIPE_BUF down to 2, so records straddle the pipe's pages. */
static size_t size_of(int i) {
    return i % 3 == 0 ? PIPE_BUF : (size_t)(2 + (i * 37) % (PIPE_BUF - 2));
}

static void *writes(void *arg) {
    int id = (int)(intptr_t)arg;
    unsigned char rec[PIPE_BUF];
    for (int i = 0; i < RECORDS; i++) {
        size_t n = size_of(i);
        rec[0] = (unsigned char)(n >> 8);
        rec[1] = (unsigned char)n;
        memset(rec + 2, 'a' + id, n - 2);
        EQ(write(p[1], rec, n), n);
    }
    return NULL;
}

static void read_all(unsigned char *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(p[0], buf + done, n - done);
        CHECK(r > 0);
        done += (size_t)r;
    }
}

static int counts[WRITERS];

static void *reads_records(void *arg) {
    (void)arg;
    unsigned char rec[PIPE_BUF];
    for (int k = 0; k < WRITERS * RECORDS; k++) {
        read_all(rec, 2);
        size_t n = (size_t)rec[0] << 8 | rec[1];
        CHECK(n >= 2 && n <= PIPE_BUF);
        read_all(rec + 2, n - 2);
        int id = n > 2 ? rec[2] - 'a' : -1;
        CHECK(id >= 0 && id < WRITERS);
        for (size_t j = 2; j < n; j++) CHECK(rec[j] == 'a' + id);
        counts[id]++;
    }
    return NULL;
}

int main(void) {
    EQ(pipe(p), 0);
    pthread_t w[WRITERS], r;
    for (int i = 0; i < WRITERS; i++)
        EQ(pthread_create(&w[i], NULL, writes, (void *)(intptr_t)i), 0);
    /* The reader comes last: the writers fill the pipe first. */
    EQ(pthread_create(&r, NULL, reads_records, NULL), 0);
    for (int i = 0; i < WRITERS; i++) EQ(pthread_join(w[i], NULL), 0);
    EQ(pthread_join(r, NULL), 0);
    for (int i = 0; i < WRITERS; i++) EQ(counts[i], RECORDS);
    EQ(close(p[1]), 0);
    char c;
    EQ(read(p[0], &c, 1), 0);
    EQ(close(p[0]), 0);
    return 0;
}
