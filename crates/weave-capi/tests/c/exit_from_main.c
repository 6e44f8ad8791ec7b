/* pthread_exit in main: the other threads go on; the process exits with
 * status 0 after the last one has finished, running atexit handlers. The
 * test harness checks the output and the status. */
#include "check.h"

static void at_exit(void) { printf("atexit ran\n"); }

static sem_t first_done;

/* Worker 1 sleeps a little and prints; worker 2 waits for it, then
 * prints: both run after main has called pthread_exit. */
static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    if (id == 1) {
        usleep(20000);
    } else {
        sem_wait(&first_done);
    }
    printf("worker %d done\n", id);
    fflush(stdout);
    if (id == 1) sem_post(&first_done);
    return NULL;
}

int main(void) {
    atexit(at_exit);
    EQ(sem_init(&first_done, 0, 0), 0);
    pthread_t t;
    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    EQ(pthread_create(&t, &a, worker, (void *)2), 0);
    EQ(pthread_create(&t, NULL, worker, (void *)1), 0);
    pthread_exit(NULL);
}
