/* pthread_once runs the routine once, however many threads call it, and
 * no caller returns before it has finished. */
#include "check.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int runs;
static int finished;

static void init(void) {
    runs++;
    usleep(20000); /* others arrive meanwhile */
    finished = 1;
}

static void *start(void *arg) {
    (void)arg;
    EQ(pthread_once(&once, init), 0);
    return (void *)(intptr_t)finished;
}

int main(void) {
    pthread_t t[32];
    for (int i = 0; i < 32; i++) EQ(pthread_create(&t[i], NULL, start, NULL), 0);
    for (int i = 0; i < 32; i++) {
        void *r;
        EQ(pthread_join(t[i], &r), 0);
        EQ((intptr_t)r, 1);
    }
    EQ(pthread_once(&once, init), 0);
    EQ(runs, 1);
    EQ(pthread_once(NULL, init), EINVAL);
    EQ(pthread_once(&once, NULL), EINVAL);
    return 0;
}
