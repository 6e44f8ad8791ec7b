/* Spinlocks: mutual exclusion between threads that share one LWP (a
 * spinner must let the holder run: weave's spinner yields after a
 * while); trylock is EBUSY while held; unlock when free is EPERM; destroy
 * while held EBUSY; an uninitialised or destroyed lock EINVAL. */
#include "check.h"

static pthread_spinlock_t s;
static long counter;

static void *adder(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        EQ(pthread_spin_lock(&s), 0);
        long c = counter;
        if (i % 100 == 0) sched_yield(); /* the holder is switched out */
        counter = c + 1;
        EQ(pthread_spin_unlock(&s), 0);
    }
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    EQ(pthread_spin_init(&s, PTHREAD_PROCESS_SHARED), ENOTSUP);
    EQ(pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE), 0);
    pthread_t t[8];
    for (int i = 0; i < 8; i++) EQ(pthread_create(&t[i], NULL, adder, NULL), 0);
    for (int i = 0; i < 8; i++) EQ(pthread_join(t[i], NULL), 0);
    EQ(counter, 8 * 2000);

    EQ(pthread_spin_lock(&s), 0);
    EQ(pthread_spin_trylock(&s), EBUSY);
    EQ(pthread_spin_destroy(&s), EBUSY);
    EQ(pthread_spin_unlock(&s), 0);
    EQ(pthread_spin_unlock(&s), EPERM);
    EQ(pthread_spin_destroy(&s), 0);
    EQ(pthread_spin_lock(&s), EINVAL);
    pthread_spinlock_t junk = 12345;
    EQ(pthread_spin_trylock(&junk), EINVAL);
    return 0;
}
