/* Barriers: no thread passes before all `count` have arrived; exactly one
 * per round gets PTHREAD_BARRIER_SERIAL_THREAD; the barrier is reusable;
 * a count of 0 is EINVAL, a destroyed barrier EINVAL. */
#include "check.h"

enum { N = 12, ROUNDS = 50 };
static pthread_barrier_t b;
static int arrived[ROUNDS];
static int serial[ROUNDS];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        EQ(pthread_mutex_lock(&m), 0);
        arrived[r]++;
        EQ(pthread_mutex_unlock(&m), 0);
        int x = pthread_barrier_wait(&b);
        CHECK(x == 0 || x == PTHREAD_BARRIER_SERIAL_THREAD);
        EQ(pthread_mutex_lock(&m), 0);
        EQ(arrived[r], N);
        if (x == PTHREAD_BARRIER_SERIAL_THREAD) serial[r]++;
        EQ(pthread_mutex_unlock(&m), 0);
    }
    return NULL;
}

int main(void) {
    pthread_barrierattr_t a;
    int v;
    EQ(pthread_barrierattr_init(&a), 0);
    EQ(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED), ENOTSUP);
    EQ(pthread_barrierattr_getpshared(&a, &v), 0);
    EQ(v, PTHREAD_PROCESS_PRIVATE);
    EQ(pthread_barrier_init(&b, &a, 0), EINVAL);
    EQ(pthread_barrier_init(&b, &a, N), 0);
    EQ(pthread_barrierattr_destroy(&a), 0);
    pthread_t t[N];
    for (int i = 0; i < N; i++) EQ(pthread_create(&t[i], NULL, worker, NULL), 0);
    for (int i = 0; i < N; i++) EQ(pthread_join(t[i], NULL), 0);
    for (int r = 0; r < ROUNDS; r++) EQ(serial[r], 1);
    EQ(pthread_barrier_destroy(&b), 0);
    EQ(pthread_barrier_wait(&b), EINVAL);
    pthread_barrier_t never;
    memset(&never, 0, sizeof never);
    EQ(pthread_barrier_wait(&never), EINVAL);
    return 0;
}
