/* SA_RESTART (sigaction): without it, a system call that a handler
 * interrupts fails with EINTR ("If the SA_RESTART flag is set, the
 * interrupted function shall be restarted; otherwise [...] it shall fail
 * with errno set to [EINTR]"); with it, the call goes on. Here the main
 * thread (a plain OS thread) blocks in read(2) on a pipe, which is the
 * system's call, and a created thread sends it SIGUSR1 every few ms until
 * it is done. */
#include "check.h"

static volatile sig_atomic_t handled, done;
static pthread_t main_thread;
static int pipe_fds[2];

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

/* Signals the main thread until `done`; once `write_after` signals have
 * been handled, writes a byte to the pipe. */
static void *nags(void *arg) {
    long write_after = (long)arg;
    while (!done) {
        usleep(5000);
        if (!done) EQ(pthread_kill(main_thread, SIGUSR1), 0);
        if (write_after > 0 && handled >= write_after) {
            EQ(write(pipe_fds[1], "x", 1), 1);
            write_after = 0;
        }
    }
    return NULL;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
}

int main(void) {
    main_thread = pthread_self();
    EQ(pipe(pipe_fds), 0);
    char c;

    /* Without SA_RESTART: EINTR. */
    install(0);
    handled = done = 0;
    pthread_t t;
    EQ(pthread_create(&t, NULL, nags, (void *)0L), 0);
    errno = 0;
    ssize_t r;
    do {
        r = read(pipe_fds[0], &c, 1);
    } while (r < 0 && errno == EINTR && handled == 0);
    EQ(r, -1);
    EQ(errno, EINTR);
    CHECK(handled >= 1);
    done = 1;
    EQ(pthread_join(t, NULL), 0);

    /* With SA_RESTART: the read goes on through the handlers and returns
     * the byte written after three of them. */
    install(SA_RESTART);
    handled = done = 0;
    EQ(pthread_create(&t, NULL, nags, (void *)3L), 0);
    EQ(read(pipe_fds[0], &c, 1), 1);
    EQ(c, 'x');
    CHECK(handled >= 3);
    done = 1;
    EQ(pthread_join(t, NULL), 0);
    return 0;
}
