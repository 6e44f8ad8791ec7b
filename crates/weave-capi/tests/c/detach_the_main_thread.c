/* pthread_detach of the main thread: POSIX lets any thread be detached,
 * `main` included: the first detach succeeds, a second is EINVAL, and so
 * is a join of the detached `main` from another thread; its attributes
 * (pthread_getattr_np) then say PTHREAD_CREATE_DETACHED. */
#include "check.h"

#include <pthread.h>

static pthread_t main_id;

static void *joins_main(void *arg) {
    (void)arg;
    return (void *)(intptr_t)pthread_join(main_id, NULL);
}

int main(void) {
    main_id = pthread_self();
    pthread_attr_t a;
    int state = -1;
    EQ(pthread_getattr_np(main_id, &a), 0);
    EQ(pthread_attr_getdetachstate(&a, &state), 0);
    EQ(state, PTHREAD_CREATE_JOINABLE);
    EQ(pthread_attr_destroy(&a), 0);

    EQ(pthread_detach(main_id), 0);
    EQ(pthread_detach(main_id), EINVAL);
    pthread_t t;
    void *r = NULL;
    EQ(pthread_create(&t, NULL, joins_main, NULL), 0);
    EQ(pthread_join(t, &r), 0);
    EQ((intptr_t)r, EINVAL);

    EQ(pthread_getattr_np(main_id, &a), 0);
    EQ(pthread_attr_getdetachstate(&a, &state), 0);
    EQ(state, PTHREAD_CREATE_DETACHED);
    EQ(pthread_attr_destroy(&a), 0);
    return 0;
}
