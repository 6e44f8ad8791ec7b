/* pthread_mutex_destroy: "It shall be safe to destroy an initialized
 * mutex that is unlocked", and its rationale destroys (and frees) a mutex
 * right after the last unlock, which another thread may still be
 * returning from. Many rounds of: a mutex alone in a fresh mmap'd page;
 * thread A locks it; thread B waits for it (blocking in lock, so that A's
 * unlock has a waiter to wake, or retrying trylock, by turns); A unlocks;
 * B locks, unlocks, destroys and unmaps the page at once, so that an
 * access by A's unlock after the mutex went free faults (or, in what the
 * library keeps behind the object and frees at destroy, corrupts the heap
 * or hangs) instead of passing unseen. Two LWPs, so that A and B run at
 * once. */
#include "check.h"
#include <sys/mman.h>

#define ROUNDS 10000
#define PAGE 4096

enum { READY = 1, TRYING, DONE };
static int step = DONE;
static pthread_mutex_t *page;

static void wait_for(int s) {
    while (__atomic_load_n(&step, __ATOMIC_ACQUIRE) != s) sched_yield();
}

static void *thread_a(void *arg) {
    (void)arg;
    for (int round = 0; round < ROUNDS; round++) {
        wait_for(DONE);
        pthread_mutex_t *m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(m != MAP_FAILED);
        EQ(pthread_mutex_init(m, NULL), 0);
        EQ(pthread_mutex_lock(m), 0);
        page = m;
        __atomic_store_n(&step, READY, __ATOMIC_RELEASE);
        wait_for(TRYING);
        /* Let B reach its wait (and block in it) first. */
        for (int i = 0; i < round % 4; i++) sched_yield();
        EQ(pthread_mutex_unlock(m), 0);
    }
    return NULL;
}

static void *thread_b(void *arg) {
    (void)arg;
    for (int round = 0; round < ROUNDS; round++) {
        wait_for(READY);
        pthread_mutex_t *m = page;
        __atomic_store_n(&step, TRYING, __ATOMIC_RELEASE);
        if (round % 2) {
            EQ(pthread_mutex_lock(m), 0);
        } else {
            int r, tries = 0;
            while ((r = pthread_mutex_trylock(m)) == EBUSY)
                if (++tries > 1000) sched_yield();
            EQ(r, 0);
        }
        EQ(pthread_mutex_unlock(m), 0);
        EQ(pthread_mutex_destroy(m), 0);
        EQ(munmap(m, PAGE), 0);
        __atomic_store_n(&step, DONE, __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(2), 0);
    pthread_t a, b;
    EQ(pthread_create(&a, NULL, thread_a, NULL), 0);
    EQ(pthread_create(&b, NULL, thread_b, NULL), 0);
    EQ(pthread_join(a, NULL), 0);
    EQ(pthread_join(b, NULL), 0);
    puts("ok");
    return 0;
}
