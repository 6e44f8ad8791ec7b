/* pthread_exit in main: the other threads go on; the process exits with
 * status 0 after the last one has finished, running atexit handlers. The
 * test harness checks the output and the status. */
#include "check.h"

static void at_exit(void) { printf("atexit ran\n"); }

static void *worker(void *arg) {
    usleep(20000 * (int)(intptr_t)arg);
    printf("worker %d done\n", (int)(intptr_t)arg);
    fflush(stdout);
    return NULL;
}

int main(void) {
    atexit(at_exit);
    pthread_t t;
    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    EQ(pthread_create(&t, &a, worker, (void *)2), 0);
    EQ(pthread_create(&t, NULL, worker, (void *)1), 0);
    pthread_exit(NULL);
}
