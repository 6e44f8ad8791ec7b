/* weave's thread table while a handler runs on the main thread (a plain
 * OS thread) that a signal took out of a wait: the thread runs its
 * handler, so the table shows it running, not blocked in the wait the
 * handler ends. (A program that waits for a thread to block again before
 * its next signal would otherwise take the old wait for the new one.)
 * The handler waits until another thread has read the table. Checked for
 * sem_wait and nanosleep. */
#include "check.h"

static volatile sig_atomic_t in_handler, seen;
static volatile int state_seen;
static pthread_t main_id;

static void handler(int sig) {
    (void)sig;
    in_handler = 1;
    while (!seen) {
    }
}

static int state_of(pthread_t t) {
    static weave_thread_info rows[4096];
    size_t n = weave_thread_table(rows, 4096);
    for (size_t i = 0; i < n && i < 4096; i++)
        if (pthread_equal(rows[i].id, t)) return rows[i].state;
    return -1;
}

static void *observer(void *arg) {
    (void)arg;
    for (int round = 0; round < 2; round++) {
        wait_blocked(main_id);
        EQ(pthread_kill(main_id, SIGUSR1), 0);
        while (!in_handler) sched_yield();
        state_seen = state_of(main_id);
        in_handler = 0;
        seen = 1;
        while (seen) sched_yield();
    }
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sem_t sem;
    EQ(sem_init(&sem, 0, 0), 0);
    main_id = pthread_self();
    pthread_t t;
    EQ(pthread_create(&t, NULL, observer, NULL), 0);

    errno = 0;
    EQ(sem_wait(&sem), -1);
    EQ(errno, EINTR);
    EQ(state_seen, WEAVE_THREAD_RUNNING);
    seen = 0;

    struct timespec req = {30, 0};
    errno = 0;
    EQ(nanosleep(&req, NULL), -1);
    EQ(errno, EINTR);
    EQ(state_seen, WEAVE_THREAD_RUNNING);
    seen = 0;

    EQ(pthread_join(t, NULL), 0);
    return 0;
}
