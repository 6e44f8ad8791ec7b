/* PTHREAD_MUTEX_INITIALIZER is an unlocked default mutex: contended
 * increments from many threads all count; trylock is EBUSY while another
 * thread holds it; unlocking a mutex one does not hold is EPERM. */
#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static sem_t held, release;

static void *adder(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        EQ(pthread_mutex_lock(&m), 0);
        long c = counter;
        if (i % 64 == 0) sched_yield(); /* let others contend */
        counter = c + 1;
        EQ(pthread_mutex_unlock(&m), 0);
    }
    return NULL;
}

static void *holder(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    sem_post(&held);
    sem_wait(&release);
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

int main(void) {
    pthread_t t[16];
    for (int i = 0; i < 16; i++) EQ(pthread_create(&t[i], NULL, adder, NULL), 0);
    for (int i = 0; i < 16; i++) EQ(pthread_join(t[i], NULL), 0);
    EQ(counter, 16 * 2000);

    EQ(sem_init(&held, 0, 0), 0);
    EQ(sem_init(&release, 0, 0), 0);
    pthread_t h;
    EQ(pthread_create(&h, NULL, holder, NULL), 0);
    EQ(sem_wait(&held), 0);
    EQ(pthread_mutex_trylock(&m), EBUSY);
    EQ(pthread_mutex_unlock(&m), EPERM);
    EQ(sem_post(&release), 0);
    EQ(pthread_join(h, NULL), 0);
    EQ(pthread_mutex_trylock(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_unlock(&m), EPERM);
    return 0;
}
