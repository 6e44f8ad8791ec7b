/* pthread_cleanup_push/pop: pop(1) runs the handler, pop(0) does not;
 * pthread_exit runs the handlers still pushed, newest first, before the
 * key destructors; a normal return after balanced pops runs none. */
#include "check.h"

static char order[16];
static int n;
static pthread_key_t key;

static void note(void *arg) { order[n++] = (char)(intptr_t)arg; }
static void dtor(void *arg) { (void)arg; order[n++] = 'D'; }

static void *exits_inside(void *arg) {
    (void)arg;
    EQ(pthread_setspecific(key, (void *)1), 0);
    pthread_cleanup_push(note, (void *)'a');
    pthread_cleanup_push(note, (void *)'b');
    pthread_cleanup_push(note, (void *)'c');
    pthread_cleanup_pop(0); /* 'c' removed, not run */
    pthread_exit(NULL);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

static void *pops(void *arg) {
    (void)arg;
    pthread_cleanup_push(note, (void *)'x');
    pthread_cleanup_push(note, (void *)'y');
    pthread_cleanup_pop(1);
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void) {
    EQ(pthread_key_create(&key, dtor), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, exits_inside, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    order[n] = 0;
    CHECK(strcmp(order, "baD") == 0);

    n = 0;
    EQ(pthread_create(&t, NULL, pops, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    order[n] = 0;
    CHECK(strcmp(order, "y") == 0);
    return 0;
}
