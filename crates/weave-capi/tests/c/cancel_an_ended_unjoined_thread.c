/* pthread_cancel: a thread that has ended but is not yet joined still has
 * a valid id (POSIX: the id stays valid until the join), so cancelling it
 * succeeds (0) and changes nothing: the join gets the value the start
 * routine returned. After the join the id is gone: ESRCH. */
#include "check.h"

#include <pthread.h>

static void *returns(void *arg) { return arg; }

/* Whether weave's thread table lists `t` (a thread that has ended is not
 * listed, even if nobody joined it yet). */
static int listed(pthread_t t) {
    static weave_thread_info rows[4096];
    size_t n = weave_thread_table(rows, 4096);
    for (size_t i = 0; i < n && i < 4096; i++)
        if (pthread_equal(rows[i].id, t)) return 1;
    return 0;
}

int main(void) {
    for (int round = 0; round < 20; round++) {
        pthread_t t;
        EQ(pthread_create(&t, NULL, returns, (void *)0x5a), 0);
        while (listed(t)) sched_yield();
        EQ(pthread_cancel(t), 0);
        void *value = NULL;
        EQ(pthread_join(t, &value), 0);
        CHECK(value == (void *)0x5a);
        EQ(pthread_cancel(t), ESRCH);
    }
    return 0;
}
