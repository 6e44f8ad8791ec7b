/* alarm (POSIX): SIGALRM is generated for the process when the seconds
 * given have passed; alarm returns the seconds left of the previous
 * alarm (0 if none) and alarm(0) cancels it. A created thread that waits
 * takes it (main blocks SIGALRM) and its handler runs there; the wait
 * then:
 * - sleep: returns the unslept seconds (more than 0);
 * - sem_wait: fails with EINTR when the handler has no SA_RESTART, goes on
 *   waiting with SA_RESTART (Linux restarts it);
 * - pthread_cond_wait: "shall not return an error code of [EINTR]": it
 *   waits on (or returns 0, a spurious wake-up);
 * - read on an empty pipe: fails with EINTR without SA_RESTART, goes on
 *   with it (then returns what is written after the handler).
 * Main arms the alarm once the thread is inside its wait, and again each
 * second until the handler ran, so an alarm that comes early cannot leave
 * the thread waiting for ever. */
#include "check.h"

#include <semaphore.h>
#include <signal.h>

static volatile sig_atomic_t alarms;
static pthread_t waiter;

static void on_alarm(int sig) {
    (void)sig;
    if (pthread_equal(pthread_self(), waiter)) alarms++;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = flags;
    EQ(sigaction(SIGALRM, &sa, NULL), 0);
}

/* Main: arms an alarm for the waiter (once the table shows it waiting,
 * with `table`) and again each second until `done()`. */
static void alarm_until(int (*done)(void), int table) {
    while (!done()) {
        if (table) wait_blocked(waiter);
        alarm(1);
        for (int i = 0; i < 1200 && !done(); i++) usleep(1000);
    }
}

static int handled_base;
static int one_more_handled(void) {
    return alarms > handled_base;
}
static void alarm_until_handled(int table) {
    handled_base = alarms;
    alarm_until(one_more_handled, table);
}

static sem_t sem;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int go, pipefd[2];
static volatile sig_atomic_t stage, cond_rc = -1;

static void *waits(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);

    /* sleep */
    unsigned left = sleep(30);
    CHECK(left > 0 && left <= 30);
    CHECK(alarms >= 1);
    stage = 1;

    /* sem_wait, without then with SA_RESTART (main installs each) */
    while (stage != 2) sched_yield();
    errno = 0;
    EQ(sem_wait(&sem), -1);
    EQ(errno, EINTR);
    stage = 3;
    while (stage != 4) sched_yield();
    EQ(sem_wait(&sem), 0); /* main posts after the handler */
    stage = 5;

    /* pthread_cond_wait */
    EQ(pthread_mutex_lock(&m), 0);
    stage = 6;
    int rc = 0;
    while (!go && rc == 0) rc = pthread_cond_wait(&c, &m);
    cond_rc = rc;
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(rc, 0);

    /* read on a pipe, without then with SA_RESTART */
    while (stage != 7) sched_yield();
    char b;
    errno = 0;
    ssize_t n = read(pipefd[0], &b, 1);
    EQ(n, -1);
    EQ(errno, EINTR);
    stage = 8;
    while (stage != 9) sched_yield();
    EQ(read(pipefd[0], &b, 1), 1);
    EQ(b, 'x');
    return NULL;
}

static int slept(void) {
    return stage == 1;
}

static int sem_ended(void) {
    return stage == 3;
}

static int read_ended(void) {
    return stage == 8;
}

int main(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    install(0);

    /* alarm's own answers. */
    EQ(alarm(100), 0);
    unsigned left = alarm(50);
    CHECK(left > 50 && left <= 100);
    left = alarm(0);
    CHECK(left > 0 && left <= 50);
    EQ(alarm(0), 0);
    /* Cancelled: no SIGALRM comes (it would be pending on main). */
    EQ(alarm(1), 0);
    CHECK(alarm(0) >= 1);
    sleep(2);
    sigset_t pend;
    EQ(sigpending(&pend), 0);
    CHECK(!sigismember(&pend, SIGALRM));

    EQ(sem_init(&sem, 0, 0), 0);
    EQ(pipe(pipefd), 0);
    EQ(pthread_create(&waiter, NULL, waits, NULL), 0);
    alarm_until(slept, 1);

    stage = 2;
    alarm_until(sem_ended, 1);
    install(SA_RESTART);
    stage = 4;
    alarm_until_handled(1);
    EQ(stage, 4); /* still waiting */
    EQ(sem_post(&sem), 0);
    while (stage < 5) sched_yield();

    /* cond_wait: the handler runs, the wait goes on. */
    install(0);
    while (stage < 6) sched_yield();
    alarm_until_handled(1);
    EQ(cond_rc, -1);
    EQ(pthread_mutex_lock(&m), 0);
    go = 1;
    EQ(pthread_cond_signal(&c), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    while (cond_rc == -1) sched_yield();

    /* The pipe read blocks in the kernel, which no table shows: the alarm
     * comes again until the read has ended. */
    stage = 7;
    alarm_until(read_ended, 0);
    install(SA_RESTART);
    stage = 9;
    alarm_until_handled(0);
    EQ(write(pipefd[1], "x", 1), 1);
    EQ(pthread_join(waiter, NULL), 0);
    return 0;
}
