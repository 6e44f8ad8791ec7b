/* In the child of a fork taken while another thread of the parent runs,
 * pthread_exit in main waits only for the child's own threads (the
 * parent's do not exist there), then exits with status 0. */
#include "check.h"
#include <sys/wait.h>

static sem_t go;

static void *parent_thread(void *arg) {
    sem_wait(&go);
    return arg;
}

static void *child_thread(void *arg) {
    usleep(10000);
    printf("child thread done\n");
    fflush(stdout);
    return arg;
}

int main(void) {
    EQ(sem_init(&go, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, parent_thread, NULL), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        pthread_t c;
        if (pthread_create(&c, NULL, child_thread, NULL) != 0) _exit(4);
        pthread_exit(NULL);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    EQ(WEXITSTATUS(status), 0);
    EQ(sem_post(&go), 0);
    EQ(pthread_join(t, NULL), 0);
    printf("parent done\n");
    return 0;
}
