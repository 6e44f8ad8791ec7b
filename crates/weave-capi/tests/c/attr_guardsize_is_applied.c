/* pthread_attr_setguardsize (POSIX): a thread created with guard size G
 * has at least G bytes (rounded up to pages) of inaccessible memory below
 * its stack, so a stack overflow into them is caught; 0 means no guard;
 * the default is one page, and a guard size set with a stack of the
 * program's (pthread_attr_setstack) is ignored. pthread_getattr_np
 * reports the guard size the thread was created with. The faults happen
 * in child processes: a write into the guard must end the child by a
 * signal. */
#include "check.h"
#include <semaphore.h>
#include <sys/wait.h>

#define STACK (64 * 1024)
#define MIB (1024 * 1024)

struct probe {
    size_t guard_set;   /* the attribute's, or (size_t)-1: the default */
    size_t guard_seen;  /* pthread_getattr_np's, on itself */
    char *stack_lo;     /* the stack's lowest byte */
    size_t stack_size;
    size_t write_below; /* if not 0: write this many bytes below the stack */
};

static void *body(void *arg) {
    struct probe *p = arg;
    pthread_attr_t a;
    void *lo;
    EQ(pthread_getattr_np(pthread_self(), &a), 0);
    EQ(pthread_attr_getguardsize(&a, &p->guard_seen), 0);
    EQ(pthread_attr_getstack(&a, &lo, &p->stack_size), 0);
    EQ(pthread_attr_destroy(&a), 0);
    p->stack_lo = lo;
    /* The stack reported is the one the thread runs on. */
    CHECK((char *)&a > p->stack_lo && (char *)&a < p->stack_lo + p->stack_size);
    if (p->write_below) {
        volatile char *below = p->stack_lo - p->write_below;
        *below = 1; /* must fault */
        _exit(3);
    }
    return NULL;
}

static void run(struct probe *p) {
    pthread_attr_t a;
    pthread_t t;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setstacksize(&a, STACK), 0);
    if (p->guard_set != (size_t)-1) EQ(pthread_attr_setguardsize(&a, p->guard_set), 0);
    EQ(pthread_create(&t, &a, body, p), 0);
    EQ(pthread_attr_destroy(&a), 0);
    EQ(pthread_join(t, NULL), 0);
}

static void *idle(void *arg) {
    sem_wait(arg);
    return NULL;
}

/* In a child: a few threads with the default guard (so a pool stack
 * would have neighbours below it), then one with `guard` that writes
 * `below` bytes under its stack. Returns the child's wait status. */
static int fault_in_child(size_t guard, size_t below) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        static sem_t never;
        EQ(sem_init(&never, 0, 0), 0);
        pthread_attr_t a;
        EQ(pthread_attr_init(&a), 0);
        EQ(pthread_attr_setstacksize(&a, STACK), 0);
        for (int i = 0; i < 32; i++) {
            pthread_t t;
            EQ(pthread_create(&t, &a, idle, &never), 0);
        }
        EQ(pthread_attr_destroy(&a), 0);
        struct probe p = {guard, 0, NULL, 0, below};
        run(&p);
        _exit(0); /* the write did not fault */
    }
    int status;
    EQ(waitpid(pid, &status, 0), pid);
    return status;
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);

    /* The default: one page, reported as such. */
    struct probe d = {(size_t)-1, 0, NULL, 0, 0};
    run(&d);
    EQ(d.guard_seen, page);
    CHECK(d.stack_size >= STACK);

    /* A big guard and an odd one: reported as set. */
    struct probe big = {MIB, 0, NULL, 0, 0};
    run(&big);
    EQ(big.guard_seen, MIB);
    CHECK(big.stack_size >= STACK);
    struct probe odd = {3 * page + 1, 0, NULL, 0, 0};
    run(&odd);
    EQ(odd.guard_seen, 3 * page + 1);

    /* No guard. */
    struct probe none = {0, 0, NULL, 0, 0};
    run(&none);
    EQ(none.guard_seen, 0);

    /* A stack of the program's: the guard size is ignored. */
    pthread_attr_t a;
    pthread_t t;
    static char mine[STACK] __attribute__((aligned(64)));
    struct probe given = {0, 12345, NULL, 0, 0};
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setguardsize(&a, MIB), 0);
    EQ(pthread_attr_setstack(&a, mine, sizeof mine), 0);
    EQ(pthread_create(&t, &a, body, &given), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_attr_destroy(&a), 0);
    CHECK(given.stack_lo >= mine && given.stack_lo < mine + sizeof mine);

    /* Writes into the guard fault: just below the stack, in the middle of
     * a 1 MiB guard, and at its last byte; and below the default guard's
     * one page. */
    size_t at[] = {1, MIB / 2, MIB};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        int st = fault_in_child(MIB, at[i]);
        CHECK(WIFSIGNALED(st));
    }
    CHECK(WIFSIGNALED(fault_in_child((size_t)-1, 1)));
    CHECK(WIFSIGNALED(fault_in_child(3 * page + 1, 4 * page)));
    return 0;
}
