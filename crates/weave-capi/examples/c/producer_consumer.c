/* A bounded buffer shared by producers and consumers: one mutex, two
 * condition variables (not full, not empty). An ordinary pthreads
 * program; it runs on weave's ULTs when compiled with
 *
 *     cc -include weave/pthread.h producer_consumer.c \
 *        $(pkg-config --cflags --libs weave)
 *
 * and on the system's threads when compiled with plain `cc -pthread`.
 *
 * Usage: producer_consumer [PRODUCERS CONSUMERS ITEMS_PER_PRODUCER]
 * It checks itself: every item produced is consumed exactly once (the
 * sums and counts match), and exits 1 otherwise. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CAPACITY 16

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    long items[CAPACITY];
    int head, count;
    int producers_left;
} buf = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

static long per_producer;

static void put(long item) {
    pthread_mutex_lock(&buf.lock);
    while (buf.count == CAPACITY) pthread_cond_wait(&buf.not_full, &buf.lock);
    buf.items[(buf.head + buf.count) % CAPACITY] = item;
    buf.count++;
    pthread_cond_signal(&buf.not_empty);
    pthread_mutex_unlock(&buf.lock);
}

/* Takes an item; returns 0 when the buffer is empty and no producer is
 * left. */
static int take(long *item) {
    pthread_mutex_lock(&buf.lock);
    while (buf.count == 0 && buf.producers_left > 0)
        pthread_cond_wait(&buf.not_empty, &buf.lock);
    if (buf.count == 0) {
        pthread_mutex_unlock(&buf.lock);
        return 0;
    }
    *item = buf.items[buf.head];
    buf.head = (buf.head + 1) % CAPACITY;
    buf.count--;
    pthread_cond_signal(&buf.not_full);
    pthread_mutex_unlock(&buf.lock);
    return 1;
}

static void *producer(void *arg) {
    long id = (long)arg;
    for (long i = 1; i <= per_producer; i++) put(id * per_producer + i);
    pthread_mutex_lock(&buf.lock);
    if (--buf.producers_left == 0) pthread_cond_broadcast(&buf.not_empty);
    pthread_mutex_unlock(&buf.lock);
    return NULL;
}

struct tally {
    long count, sum;
};

static void *consumer(void *arg) {
    struct tally *t = arg;
    long item;
    while (take(&item)) {
        t->count++;
        t->sum += item;
    }
    return NULL;
}

int main(int argc, char **argv) {
    long producers = argc > 1 ? atol(argv[1]) : 8;
    long consumers = argc > 2 ? atol(argv[2]) : 8;
    per_producer = argc > 3 ? atol(argv[3]) : 10000;
    if (producers < 1 || consumers < 1 || per_producer < 1) {
        fprintf(stderr, "usage: %s [PRODUCERS CONSUMERS ITEMS_PER_PRODUCER]\n", argv[0]);
        return 2;
    }
    buf.producers_left = (int)producers;
    pthread_t *p = calloc((size_t)producers, sizeof *p);
    pthread_t *c = calloc((size_t)consumers, sizeof *c);
    struct tally *t = calloc((size_t)consumers, sizeof *t);
    if (!p || !c || !t) return 2;
    for (long i = 0; i < consumers; i++)
        if (pthread_create(&c[i], NULL, consumer, &t[i]) != 0) return 2;
    for (long i = 0; i < producers; i++)
        if (pthread_create(&p[i], NULL, producer, (void *)i) != 0) return 2;
    for (long i = 0; i < producers; i++) pthread_join(p[i], NULL);
    long count = 0, sum = 0;
    for (long i = 0; i < consumers; i++) {
        pthread_join(c[i], NULL);
        count += t[i].count;
        sum += t[i].sum;
    }
    long n = producers * per_producer;
    long want = n * (n + 1) / 2;
    printf("%ld producers, %ld consumers: %ld items, sum %ld (expected %ld items, sum %ld)\n",
           producers, consumers, count, sum, n, want);
    free(p);
    free(c);
    free(t);
    return count == n && sum == want ? 0 : 1;
}
