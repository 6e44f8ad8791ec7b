/* Whether a C thread's stack is compacted while it sleeps: C threads lend
 * their stacks to each other freely, so weave's C library compacts none
 * unless the environment sets WEAVE_COMPACT (docs/design/compaction.md).
 *
 * argv[1] "resident": WEAVE_COMPACT is unset; after 11 s (past the 10 s
 * default and a pass) the sleeping thread's locals are still resident.
 * argv[1] "compacted": WEAVE_COMPACT is set short; the page of its locals
 * is released (polled, with a watchdog).
 *
 * mincore(2) reports whether a page is resident without touching it. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "check.h"

static _Atomic(uintptr_t) locals_at;

static void *sleeper(void *arg) {
    (void)arg;
    volatile unsigned char locals[256];
    for (int i = 0; i < 256; i++)
        locals[i] = (unsigned char)i;
    atomic_store(&locals_at, (uintptr_t)&locals[128]);
    struct timespec t = {.tv_sec = 120, .tv_nsec = 0};
    nanosleep(&t, NULL);
    return NULL;
}

static int resident(uintptr_t addr) {
    unsigned char v = 0;
    EQ(mincore((void *)(addr & ~(uintptr_t)4095), 4096, &v), 0);
    return v & 1;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    int expect_compacted = strcmp(argv[1], "compacted") == 0;
    pthread_t t;
    EQ(pthread_create(&t, NULL, sleeper, NULL), 0);
    while (atomic_load(&locals_at) == 0)
        sched_yield();
    uintptr_t p = atomic_load(&locals_at);
    if (expect_compacted) {
        /* Watchdog: 60 s. */
        for (int i = 0; i < 6000 && resident(p); i++)
            usleep(10000);
        CHECK(!resident(p));
    } else {
        sleep(11);
        CHECK(resident(p));
    }
    /* The sleeper is still asleep: end the process without it. */
    printf("ok\n");
    exit(0);
}
