/* Real-time signals sent to the process (sigqueue to getpid()) while
 * every thread blocks them. sigqueue (POSIX): with SA_SIGINFO set for
 * the signal, "the signal shall be queued", one delivery per call with
 * its value. Realtime Signal Generation and Delivery (POSIX 2.4.2):
 * "multiple signals with the same signal number shall be delivered in the
 * order in which they were generated", and of several pending real-time
 * signals, "the lowest numbered signal" is delivered first. sigpending:
 * a signal blocked and pending on the process is in the set.
 *
 * Each handler's sa_mask blocks all four signals, so handlers never nest
 * and the order they run in is the order of delivery. The signals are
 * sent highest number first, interleaved; first by a created thread (a
 * ULT under weave), then by main (an OS thread), each time with every
 * thread blocking them, then unblocked by the sender. */
#include "check.h"

#define K 4
#define N 16

static volatile sig_atomic_t n;
static int got_sig[K * N], got_val[K * N], got_code[K * N];
static sigset_t rt;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    if (n < K * N) {
        got_sig[n] = sig;
        got_val[n] = info->si_value.sival_int;
        got_code[n] = info->si_code;
    }
    n++;
}

/* Sends N values of each of the K signals, highest number first; each is
 * pending for the process as its sigqueue returns. */
static void send_all(void) {
    for (int i = 0; i < N; i++) {
        for (int k = K - 1; k >= 0; k--) {
            union sigval v;
            v.sival_int = k * 1000 + i;
            EQ(sigqueue(getpid(), SIGRTMIN + k, v), 0);
            sigset_t p;
            EQ(sigpending(&p), 0);
            CHECK(sigismember(&p, SIGRTMIN + k));
        }
    }
}

/* Unblocks the signals and checks they came lowest number first, each
 * number in the order sent, each once with its value. */
static void unblock_and_check(void) {
    n = 0;
    EQ(pthread_sigmask(SIG_UNBLOCK, &rt, NULL), 0);
    /* At least one is delivered before pthread_sigmask returns; the rest
     * follow as the handlers return. */
    CHECK(n >= 1);
    for (int i = 0; i < 100000 && n < K * N; i++) sched_yield();
    EQ(n, K * N);
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < N; i++) {
            int j = k * N + i;
            EQ(got_sig[j], SIGRTMIN + k);
            EQ(got_val[j], k * 1000 + i);
            EQ(got_code[j], SI_QUEUE);
        }
    }
    sigset_t p;
    EQ(sigpending(&p), 0);
    for (int k = 0; k < K; k++) EQ(sigismember(&p, SIGRTMIN + k), 0);
    EQ(pthread_sigmask(SIG_BLOCK, &rt, NULL), 0);
}

static void *sender(void *arg) {
    (void)arg;
    /* Inherits main's mask: every thread blocks the four signals. */
    send_all();
    unblock_and_check();
    return NULL;
}

static void *idle(void *arg) {
    sem_t *stop = arg;
    while (sem_wait(stop) != 0) {
    }
    return NULL;
}

int main(void) {
    sigemptyset(&rt);
    for (int k = 0; k < K; k++) sigaddset(&rt, SIGRTMIN + k);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sa.sa_mask = rt;
    for (int k = 0; k < K; k++) EQ(sigaction(SIGRTMIN + k, &sa, NULL), 0);
    EQ(pthread_sigmask(SIG_BLOCK, &rt, NULL), 0);
    /* Other threads, blocking them too, that could take the signals. */
    sem_t stop;
    EQ(sem_init(&stop, 0, 0), 0);
    pthread_t others[4];
    for (int i = 0; i < 4; i++) EQ(pthread_create(&others[i], NULL, idle, &stop), 0);
    for (int round = 0; round < 3; round++) {
        pthread_t t;
        EQ(pthread_create(&t, NULL, sender, NULL), 0);
        EQ(pthread_join(t, NULL), 0);
        send_all();
        unblock_and_check();
    }
    for (int i = 0; i < 4; i++) EQ(sem_post(&stop), 0);
    for (int i = 0; i < 4; i++) EQ(pthread_join(others[i], NULL), 0);
    return 0;
}
