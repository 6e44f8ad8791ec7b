/* pthread_sigqueue with a real-time signal (POSIX realtime signals
 * extension): each one sent is queued, none is lost while the target
 * blocks it, and they are delivered in the order sent, each with its
 * value (si_value) and si_code SI_QUEUE. */
#include "check.h"

#define N 20
static volatile int values[N];
static volatile sig_atomic_t got;
static volatile sig_atomic_t bad_code;
static sem_t sent;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    (void)uc;
    if (info->si_code != SI_QUEUE)
        bad_code = 1;
    if (got < N)
        values[got] = info->si_value.sival_int;
    got++;
}

static void *target(void *arg) {
    (void)arg;
    while (sem_wait(&sent) != 0)
        ;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    while (got < N)
        sched_yield();
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    EQ(sigaction(SIGRTMIN, &sa, NULL), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    EQ(sem_init(&sent, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, target, NULL), 0);
    for (int i = 0; i < N; i++) {
        union sigval v = {.sival_int = 100 + i};
        EQ(pthread_sigqueue(t, SIGRTMIN, v), 0);
    }
    EQ(sem_post(&sent), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(got, N);
    EQ(bad_code, 0);
    for (int i = 0; i < N; i++)
        EQ(values[i], 100 + i);
    return 0;
}
