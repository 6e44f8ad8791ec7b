/* pthread_exit from deep inside C calls ends the thread there: nothing
 * after the call runs, the join value is the one given, and key
 * destructors run after it (POSIX: cleanup, then destructors). */
#include "check.h"

static int after_exit;
static int destructor_saw;
static pthread_key_t key;

static void dtor(void *v) { destructor_saw = (int)(intptr_t)v; }

static void depth(int n) {
    char pad[256];
    memset(pad, n, sizeof pad);
    if (n < 0) return;
    if (n == 0) pthread_exit((void *)99);
    depth(n - 1);
    after_exit = pad[0] + 1; /* never reached */
}

static void *start(void *arg) {
    (void)arg;
    EQ(pthread_setspecific(key, (void *)7), 0);
    depth(50);
    after_exit = 1;
    return NULL;
}

int main(void) {
    EQ(pthread_key_create(&key, dtor), 0);
    for (int round = 0; round < 100; round++) {
        pthread_t t;
        void *r;
        destructor_saw = 0;
        EQ(pthread_create(&t, NULL, start, NULL), 0);
        EQ(pthread_join(t, &r), 0);
        EQ((intptr_t)r, 99);
        EQ(after_exit, 0);
        EQ(destructor_saw, 7);
    }
    return 0;
}
