/* POSIX: "A cancellation point shall occur when a thread is executing"
 * open, openat, creat, fsync, fdatasync, msync, wait, waitpid, waitid,
 * tcdrain, lockf, pread, pwrite, msgrcv, msgsnd, readv and writev. A
 * request pending (made while cancellation was disabled) when the thread
 * enables cancellation and calls one of them is acted on there: the call
 * does not return, the cleanup handler runs, and the join gets
 * PTHREAD_CANCELED. */
#include "check.h"
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>

#define CALLS 17
static int file, returned;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int requested;

static void cleanup(void *arg) { (void)arg; }

static void call(int which) {
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    siginfo_t info;
    struct { long type; char text[4]; } msg = {1, "x"};
    switch (which) {
    case 0: open("/dev/null", O_RDONLY); break;
    case 1: openat(AT_FDCWD, "/dev/null", O_RDONLY); break;
    case 2: creat("/dev/null", 0600); break;
    case 3: fsync(file); break;
    case 4: fdatasync(file); break;
    case 5: msync(NULL, 0, MS_SYNC); break;
    case 6: wait(NULL); break;
    case 7: waitpid(-1, NULL, WNOHANG); break;
    case 8: waitid(P_ALL, 0, &info, WEXITED | WNOHANG); break;
    case 9: tcdrain(file); break;
    case 10: lockf(file, F_TEST, 0); break;
    case 11: pread(file, buf, sizeof buf, 0); break;
    case 12: pwrite(file, buf, 1, 0); break;
    case 13: msgrcv(-1, &msg, sizeof msg.text, 0, IPC_NOWAIT); break;
    case 14: msgsnd(-1, &msg, sizeof msg.text, IPC_NOWAIT); break;
    case 15: readv(file, &iov, 1); break;
    case 16: writev(file, &iov, 1); break;
    }
}

static void *calls(void *arg) {
    int old;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    pthread_mutex_lock(&m);
    while (!requested) pthread_cond_wait(&cv, &m);
    requested = 0;
    pthread_mutex_unlock(&m);
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    pthread_cleanup_push(cleanup, NULL);
    call((int)(intptr_t)arg);
    returned = 1;
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void) {
    char path[] = "/tmp/weave-points-XXXXXX";
    file = mkstemp(path);
    CHECK(file >= 0);
    unlink(path);
    int failed = 0;
    for (int i = 0; i < CALLS; i++) {
        returned = 0;
        pthread_t t;
        EQ(pthread_create(&t, NULL, calls, (void *)(intptr_t)i), 0);
        EQ(pthread_cancel(t), 0);
        pthread_mutex_lock(&m);
        requested = 1;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&m);
        void *v;
        EQ(pthread_join(t, &v), 0);
        if (v != PTHREAD_CANCELED || returned) {
            fprintf(stderr, "call %d was not a cancellation point\n", i);
            failed++;
        }
    }
    return failed != 0;
}
