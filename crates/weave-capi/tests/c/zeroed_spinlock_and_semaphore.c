/* Zero-filled memory that was never initialised (a memset struct, a
 * static or calloc'd object): POSIX leaves using it undefined; weave
 * answers as glibc's generic code does, a spinlock that is free and a
 * semaphore of value 0 (sem_getvalue, sem_trywait's EAGAIN, sem_post,
 * then a wait that takes the permit). A destroyed object is still
 * refused (EINVAL), so a use after destroy is not masked. */
#include "check.h"
#include <semaphore.h>

struct holder {
    int n;
    pthread_spinlock_t lock;
    sem_t ready;
};

static struct holder h; /* static storage: zeroed */

static void *poster(void *arg) {
    (void)arg;
    EQ(pthread_spin_lock(&h.lock), 0);
    h.n++;
    EQ(pthread_spin_unlock(&h.lock), 0);
    EQ(sem_post(&h.ready), 0);
    return NULL;
}

int main(void) {
    struct holder m;
    memset(&m, 0, sizeof m);
    /* The spinlock: free, then held, then free again. */
    EQ(pthread_spin_unlock(&m.lock), EPERM);
    EQ(pthread_spin_trylock(&m.lock), 0);
    EQ(pthread_spin_trylock(&m.lock), EBUSY);
    EQ(pthread_spin_destroy(&m.lock), EBUSY);
    EQ(pthread_spin_unlock(&m.lock), 0);
    EQ(pthread_spin_lock(&m.lock), 0);
    EQ(pthread_spin_unlock(&m.lock), 0);
    EQ(pthread_spin_destroy(&m.lock), 0);
    EQ(pthread_spin_lock(&m.lock), EINVAL);
    EQ(pthread_spin_trylock(&m.lock), EINVAL);
    /* A zeroed lock destroyed without a use. */
    pthread_spinlock_t z;
    memset((void *)&z, 0, sizeof z);
    EQ(pthread_spin_destroy(&z), 0);
    EQ(pthread_spin_lock(&z), EINVAL);

    /* The semaphore: value 0. */
    int v = -1;
    EQ(sem_getvalue(&m.ready, &v), 0);
    EQ(v, 0);
    errno = 0;
    EQ(sem_trywait(&m.ready), -1);
    EQ(errno, EAGAIN);
    EQ(sem_post(&m.ready), 0);
    EQ(sem_getvalue(&m.ready, &v), 0);
    EQ(v, 1);
    EQ(sem_wait(&m.ready), 0);
    EQ(sem_destroy(&m.ready), 0);
    errno = 0;
    EQ(sem_post(&m.ready), -1);
    EQ(errno, EINVAL);
    /* A zeroed semaphore destroyed without a use. */
    sem_t s;
    memset(&s, 0, sizeof s);
    EQ(sem_destroy(&s), 0);
    errno = 0;
    EQ(sem_getvalue(&s, &v), -1);
    EQ(errno, EINVAL);

    /* Static storage, between threads: a waiter blocks on the zeroed
     * semaphore until the thread posts. */
    pthread_t t;
    EQ(pthread_create(&t, NULL, poster, NULL), 0);
    EQ(sem_wait(&h.ready), 0);
    EQ(pthread_spin_lock(&h.lock), 0);
    EQ(h.n, 1);
    EQ(pthread_spin_unlock(&h.lock), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
