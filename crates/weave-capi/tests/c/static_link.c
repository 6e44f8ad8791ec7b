/* The static library links and runs threads: create, join, a mutex. */
#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int n;

static void *inc(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    n++;
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(void) {
    pthread_t t[10];
    for (int i = 0; i < 10; i++) EQ(pthread_create(&t[i], NULL, inc, NULL), 0);
    for (int i = 0; i < 10; i++) EQ(pthread_join(t[i], NULL), 0);
    EQ(n, 10);
    printf("static ok\n");
    return 0;
}
