/* pthread_getattr_np on the calling thread: the stack it reports
 * (pthread_attr_getstack: lowest address and size) is the one the thread
 * runs on, so the address of a local lies inside it, for main and for
 * threads created with the default stack, a stack size asked for (at
 * least that size), PTHREAD_SCOPE_SYSTEM, and a stack of the program's
 * (exactly that memory, with no guard). pthread_attr_getstacksize agrees
 * with getstack. */
#include "check.h"

#include <pthread.h>

struct want {
    size_t at_least;
    char *given;
    size_t given_size;
};

static void check_own_stack(const struct want *w) {
    volatile int local = 0;
    pthread_attr_t a;
    void *addr = NULL;
    size_t size = 0, size2 = 0, guard = 1;
    EQ(pthread_getattr_np(pthread_self(), &a), 0);
    EQ(pthread_attr_getstack(&a, &addr, &size), 0);
    EQ(pthread_attr_getstacksize(&a, &size2), 0);
    EQ(pthread_attr_getguardsize(&a, &guard), 0);
    EQ(pthread_attr_destroy(&a), 0);
    CHECK(addr != NULL);
    EQ(size, size2);
    uintptr_t lo = (uintptr_t)addr, me = (uintptr_t)&local;
    CHECK(lo <= me && me < lo + size);
    CHECK(size >= w->at_least);
    if (w->given) {
        CHECK(lo >= (uintptr_t)w->given);
        CHECK(lo + size <= (uintptr_t)w->given + w->given_size);
        EQ(guard, 0);
    }
}

static void *body(void *arg) {
    check_own_stack(arg);
    return NULL;
}

static char program_stack[1 << 18] __attribute__((aligned(4096)));

int main(void) {
    struct want w = {PTHREAD_STACK_MIN, NULL, 0};
    check_own_stack(&w);

    pthread_t t;
    EQ(pthread_create(&t, NULL, body, &w), 0);
    EQ(pthread_join(t, NULL), 0);

    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setstacksize(&a, 1 << 20), 0);
    struct want big = {1 << 20, NULL, 0};
    EQ(pthread_create(&t, &a, body, &big), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_attr_setscope(&a, PTHREAD_SCOPE_SYSTEM), 0);
    EQ(pthread_create(&t, &a, body, &big), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_attr_destroy(&a), 0);

    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setstack(&a, program_stack, sizeof program_stack), 0);
    struct want given = {PTHREAD_STACK_MIN, program_stack, sizeof program_stack};
    EQ(pthread_create(&t, &a, body, &given), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_attr_destroy(&a), 0);
    return 0;
}
