/* close(2) is a cancellation point (POSIX, pthreads(7)): a thread with a
 * deferred cancellation request pending is cancelled when it calls close,
 * and its join gets PTHREAD_CANCELED. */
#include "check.h"

#include <sys/socket.h>
#include <unistd.h>

static sem_t asked, go;
static int fds[2];
static volatile int after_close;

static void *closes(void *arg) {
    (void)arg;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
    EQ(sem_post(&asked), 0);
    while (sem_wait(&go) != 0) {
    }
    /* Deferred: enabling does not act on the pending request... */
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL), 0);
    /* ...close does. */
    close(fds[0]);
    after_close = 1;
    return NULL;
}

int main(void) {
    EQ(sem_init(&asked, 0, 0), 0);
    EQ(sem_init(&go, 0, 0), 0);
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, closes, NULL), 0);
    EQ(sem_wait(&asked), 0);
    EQ(pthread_cancel(t), 0);
    EQ(sem_post(&go), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(after_close, 0);
    return 0;
}
