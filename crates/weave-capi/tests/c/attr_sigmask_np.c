/* pthread_attr_setsigmask_np / pthread_attr_getsigmask_np (glibc 2.32,
 * pthread_attr_setsigmask_np(3)): a thread created with attributes that
 * carry a signal mask starts with that mask; without one (never set, or
 * unset with NULL) it inherits a copy of its creator's mask, and
 * getsigmask_np returns PTHREAD_ATTR_NO_SIGMASK_NP. The creator's own
 * mask is unchanged by the create. */
#include "check.h"
#include <signal.h>

static void *own_mask(void *arg) {
    sigset_t *out = arg;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, out), 0);
    return NULL;
}

int main(void) {
    sigset_t usr1, usr2, got, mine;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    EQ(pthread_sigmask(SIG_SETMASK, &usr2, NULL), 0);

    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_getsigmask_np(&a, &got), PTHREAD_ATTR_NO_SIGMASK_NP);

    EQ(pthread_attr_setsigmask_np(&a, &usr1), 0);
    EQ(pthread_attr_getsigmask_np(&a, &got), 0);
    EQ(sigismember(&got, SIGUSR1), 1);
    EQ(sigismember(&got, SIGUSR2), 0);

    /* The attributes' mask, not the creator's. */
    pthread_t t;
    sigset_t child;
    EQ(pthread_create(&t, &a, own_mask, &child), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(sigismember(&child, SIGUSR1), 1);
    EQ(sigismember(&child, SIGUSR2), 0);
    EQ(sigismember(&child, SIGTERM), 0);
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &mine), 0);
    EQ(sigismember(&mine, SIGUSR2), 1);
    EQ(sigismember(&mine, SIGUSR1), 0);

    /* Unset: the creator's mask is inherited again. */
    EQ(pthread_attr_setsigmask_np(&a, NULL), 0);
    EQ(pthread_attr_getsigmask_np(&a, &got), PTHREAD_ATTR_NO_SIGMASK_NP);
    EQ(pthread_create(&t, &a, own_mask, &child), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(sigismember(&child, SIGUSR1), 0);
    EQ(sigismember(&child, SIGUSR2), 1);

    /* From a thread that is itself a ULT too. */
    EQ(pthread_attr_setsigmask_np(&a, &usr1), 0);
    EQ(pthread_attr_destroy(&a), 0);
    EQ(pthread_attr_getsigmask_np(&a, &got), EINVAL);
    return 0;
}
