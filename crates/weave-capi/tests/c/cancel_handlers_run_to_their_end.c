/* Once a thread acts on a cancellation request its cancelability is
 * disabled: a cleanup handler that reaches a cancellation point (here
 * pthread_testcancel and a short sleep) runs to its end, and so does the
 * next handler. */
#include "check.h"

static char order[8];
static int n;

static void first(void *arg) {
    (void)arg;
    pthread_testcancel();
    usleep(1000);
    order[n++] = '1';
}

static void second(void *arg) {
    (void)arg;
    order[n++] = '2';
}

static void *body(void *arg) {
    (void)arg;
    pthread_cleanup_push(second, NULL);
    pthread_cleanup_push(first, NULL);
    for (;;)
        pthread_testcancel();
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, body, NULL), 0);
    EQ(pthread_cancel(t), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    order[n] = 0;
    CHECK(strcmp(order, "12") == 0);
    return 0;
}
