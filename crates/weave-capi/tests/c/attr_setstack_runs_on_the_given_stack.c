/* pthread_attr_setstack: the thread runs on the memory the program gave
 * (its locals lie inside it), as does a thread made with
 * pthread_attr_setstackaddr (the top) and the attributes' stack size; once
 * the thread is joined the memory is the program's again and serves a
 * second thread. A stack too small for weave is refused with EINVAL. */
#include "check.h"
#include <sys/mman.h>

/* Where the thread's locals are: an address to compare, not to use. */
static uintptr_t seen;

static void *where(void *arg) {
    volatile char local = 1;
    (void)arg;
    seen = (uintptr_t)&local;
    return NULL;
}

int main(void) {
    size_t size = 256 * 1024;
    char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setstack(&a, mem, size), 0);
    for (int round = 0; round < 2; round++) {
        pthread_t t;
        void *r;
        EQ(pthread_create(&t, &a, where, NULL), 0);
        EQ(pthread_join(t, &r), 0);
        CHECK(seen >= (uintptr_t)mem && seen < (uintptr_t)(mem + size));
    }

    pthread_attr_t b;
    EQ(pthread_attr_init(&b), 0);
    EQ(pthread_attr_setstacksize(&b, size / 2), 0);
    EQ(pthread_attr_setstackaddr(&b, mem + size), 0);
    pthread_t t;
    void *r;
    EQ(pthread_create(&t, &b, where, NULL), 0);
    EQ(pthread_join(t, &r), 0);
    CHECK(seen >= (uintptr_t)(mem + size / 2) && seen < (uintptr_t)(mem + size));

    /* Unaligned and just at the minimum: after alignment, too small. */
    EQ(pthread_attr_setstack(&a, mem + 1, PTHREAD_STACK_MIN), 0);
    EQ(pthread_create(&t, &a, where, NULL), EINVAL);
    EQ(munmap(mem, size), 0);
    return 0;
}
