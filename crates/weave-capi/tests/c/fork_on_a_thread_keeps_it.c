/* fork from a created thread (a ULT): "A process shall be created with a
 * single thread. If a multi-threaded process calls fork(), the new
 * process shall contain a replica of the calling thread" (POSIX fork),
 * with the calling thread's signal mask, and no signal pending. In the
 * child that thread is the same thread: pthread_self() is the id it had,
 * its thread-specific data is there, and the error-checking mutex it
 * held is still its own, so the child handler of pthread_atfork unlocks
 * what the prepare handler locked (the pattern the pthread_atfork page
 * gives). */
#include "check.h"

#include <sys/wait.h>

static pthread_mutex_t lock;
static pthread_key_t key;
static int prepared, in_parent, in_child_unlock = -1;

static void prepare(void) {
    EQ(pthread_mutex_lock(&lock), 0);
    prepared++;
}
static void parent(void) { EQ(pthread_mutex_unlock(&lock), 0); in_parent++; }
static void child(void) { in_child_unlock = pthread_mutex_unlock(&lock); }

static void *forks(void *arg) {
    (void)arg;
    pthread_t self = pthread_self();
    EQ(pthread_setspecific(key, &key), 0);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int code = 0;
        if (in_child_unlock != 0) code = 2;
        else if (!pthread_equal(pthread_self(), self)) code = 3;
        else if (pthread_getspecific(key) != &key) code = 4;
        else {
            sigset_t now;
            pthread_sigmask(SIG_BLOCK, NULL, &now);
            if (sigismember(&now, SIGUSR1) != 1) code = 5;
            /* The mutex is free in the child and works. */
            else if (pthread_mutex_lock(&lock) != 0 || pthread_mutex_unlock(&lock) != 0)
                code = 6;
        }
        _exit(code);
    }
    int status = 0;
    EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    return (void *)(long)WEXITSTATUS(status);
}

int main(void) {
    pthread_mutexattr_t a;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
    EQ(pthread_mutex_init(&lock, &a), 0);
    EQ(pthread_key_create(&key, NULL), 0);
    EQ(pthread_atfork(prepare, parent, child), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, forks, NULL), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    EQ((long)r, 0);
    EQ(prepared, 1);
    EQ(in_parent, 1);
    /* The parent's lock is free again. */
    EQ(pthread_mutex_trylock(&lock), 0);
    EQ(pthread_mutex_unlock(&lock), 0);
    return 0;
}
