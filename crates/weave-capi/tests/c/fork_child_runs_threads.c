/* fork() in a program that uses weave gives a working child: the forking
 * thread is its only thread, and creating, joining and locking work there
 * (weave starts afresh). pthread_atfork handlers (the system's) run. Fork
 * from main and from a C thread. */
#include "check.h"
#include <sys/wait.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int counter;
static int prepared, in_parent, in_child;

static void prepare(void) { prepared++; }
static void parent(void) { in_parent++; }
static void child(void) { in_child++; }

static void *inc(void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&m);
        counter++;
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

/* In the child: threads work; exit status 0 if all is well. */
static void child_work(void) {
    if (in_child != 1) _exit(3);
    counter = 0;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, inc, NULL) != 0) _exit(4);
    for (int i = 0; i < 4; i++)
        if (pthread_join(t[i], NULL) != 0) _exit(5);
    _exit(counter == 400 ? 0 : 6);
}

static int fork_and_wait(void) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) child_work();
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void *forks(void *arg) {
    (void)arg;
    return (void *)(intptr_t)fork_and_wait();
}

int main(void) {
    EQ(pthread_atfork(prepare, parent, child), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, inc, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(counter, 100);

    EQ(fork_and_wait(), 0);
    EQ(prepared, 1);
    EQ(in_parent, 1);

    void *r;
    EQ(pthread_create(&t, NULL, forks, NULL), 0);
    EQ(pthread_join(t, &r), 0);
    EQ((intptr_t)r, 0);
    EQ(prepared, 2);
    return 0;
}
