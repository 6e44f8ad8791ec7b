/* Acting on a cancellation request runs the cleanup handlers still
 * pushed, newest first, then the thread-specific data destructors, as
 * pthread_exit(PTHREAD_CANCELED) does; handlers popped before are not
 * run. */
#include "check.h"

static char order[16];
static int n;
static pthread_key_t key;

static void note(void *arg) { order[n++] = (char)(intptr_t)arg; }
static void dtor(void *arg) { (void)arg; order[n++] = 'D'; }

static void *body(void *arg) {
    (void)arg;
    EQ(pthread_setspecific(key, (void *)1), 0);
    pthread_cleanup_push(note, (void *)'a');
    pthread_cleanup_push(note, (void *)'b');
    pthread_cleanup_push(note, (void *)'x');
    pthread_cleanup_pop(0);
    pthread_cleanup_push(note, (void *)'c');
    for (;;)
        pthread_testcancel();
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void) {
    EQ(pthread_key_create(&key, dtor), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, body, NULL), 0);
    EQ(pthread_cancel(t), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    order[n] = 0;
    if (strcmp(order, "cbaD") != 0) {
        fprintf(stderr, "order: %s\n", order);
        return 1;
    }
    return 0;
}
