/* A signal handler interrupts the sleeps and sem_wait, on a ULT and on
 * the main thread alike:
 * - nanosleep: -1, errno EINTR, the time left in rmtp;
 * - clock_nanosleep (relative): EINTR returned, the time left in rmtp;
 * - sleep: "the unslept amount (the requested time minus the time
 *   actually slept) in seconds";
 * - usleep: -1, errno EINTR;
 * - sem_wait: -1, errno EINTR, no permit taken.
 * The handler is installed without SA_RESTART; nanosleep is ended by a
 * handler either way. Before each signal the sender waits until the
 * sleeper has entered its next sleep (`entered`, set just before each one)
 * and is blocked there (weave's thread table). The table alone is not
 * enough: a thread whose sleep was just ended by the handler may still be
 * shown blocked for a moment, on the way out of that sleep. */
#include <stdatomic.h>

#include "check.h"

static volatile sig_atomic_t ran;
static atomic_int entered;
static pthread_t sleeper;
static sem_t sem;

static void handler(int sig) {
    (void)sig;
    ran++;
}

/* Sends SIGUSR1 to the sleeper once it is blocked, `rounds` times. */
static void *sender(void *arg) {
    long rounds = (long)arg;
    for (long i = 0; i < rounds; i++) {
        while (atomic_load(&entered) != i + 1) sched_yield();
        wait_blocked(sleeper);
        EQ(pthread_kill(sleeper, SIGUSR1), 0);
    }
    return NULL;
}

static void *sleeps(void *arg) {
    (void)arg;
    struct timespec req = {5, 0}, rem = {0, 0};
    errno = 0;
    atomic_store(&entered, 1);
    EQ(nanosleep(&req, &rem), -1);
    EQ(errno, EINTR);
    CHECK(rem.tv_sec >= 1 && rem.tv_sec <= 5);
    EQ(ran, 1);

    rem.tv_sec = 0;
    atomic_store(&entered, 2);
    EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
    CHECK(rem.tv_sec >= 1 && rem.tv_sec <= 5);
    EQ(ran, 2);

    atomic_store(&entered, 3);
    unsigned left = sleep(5);
    CHECK(left >= 1 && left <= 5);
    EQ(ran, 3);

    errno = 0;
    atomic_store(&entered, 4);
    EQ(usleep(5000000), -1);
    EQ(errno, EINTR);
    EQ(ran, 4);

    errno = 0;
    atomic_store(&entered, 5);
    EQ(sem_wait(&sem), -1);
    EQ(errno, EINTR);
    EQ(ran, 5);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EQ(sem_init(&sem, 0, 0), 0);

    /* On a ULT. */
    pthread_t s;
    EQ(pthread_create(&sleeper, NULL, sleeps, NULL), 0);
    EQ(pthread_create(&s, NULL, sender, (void *)5L), 0);
    EQ(pthread_join(sleeper, NULL), 0);
    EQ(pthread_join(s, NULL), 0);

    /* On the main thread, a plain OS thread. */
    ran = 0;
    atomic_store(&entered, 0);
    sleeper = pthread_self();
    EQ(pthread_create(&s, NULL, sender, (void *)5L), 0);
    sleeps(NULL);
    EQ(pthread_join(s, NULL), 0);
    int v;
    EQ(sem_getvalue(&sem, &v), 0);
    EQ(v, 0);
    return 0;
}
