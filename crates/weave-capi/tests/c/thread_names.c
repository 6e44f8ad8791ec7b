/* pthread_setname_np / pthread_getname_np: set and read back, for the
 * caller and for another thread; ERANGE for a name of 16 bytes or more or
 * a buffer too small; ESRCH for a stale id. A thread never named has the
 * process's name, as on glibc (a new thread starts with its creator's). */
#include "check.h"

static sem_t go;

static void *waits(void *arg) {
    (void)arg;
    sem_wait(&go);
    return NULL;
}

int main(void) {
    char buf[32];
    EQ(sem_init(&go, 0, 0), 0);
    char comm[32] = {0};
    FILE *f = fopen("/proc/self/comm", "r");
    CHECK(f != NULL);
    CHECK(fgets(comm, sizeof comm, f) != NULL);
    fclose(f);
    comm[strcspn(comm, "\n")] = 0;
    CHECK(strlen(comm) > 1);
    EQ(pthread_getname_np(pthread_self(), buf, sizeof buf), 0);
    CHECK(strcmp(buf, comm) == 0);
    EQ(pthread_getname_np(pthread_self(), buf, strlen(comm)), ERANGE);
    pthread_t fresh;
    EQ(pthread_create(&fresh, NULL, waits, NULL), 0);
    EQ(pthread_getname_np(fresh, buf, sizeof buf), 0);
    CHECK(strcmp(buf, comm) == 0);
    EQ(sem_post(&go), 0);
    EQ(pthread_join(fresh, NULL), 0);

    EQ(pthread_setname_np(pthread_self(), "main-thread"), 0);
    EQ(pthread_getname_np(pthread_self(), buf, sizeof buf), 0);
    CHECK(strcmp(buf, "main-thread") == 0);

    pthread_t t;
    EQ(pthread_create(&t, NULL, waits, NULL), 0);
    EQ(pthread_setname_np(t, "worker-7"), 0);
    EQ(pthread_getname_np(t, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "worker-7") == 0);
    EQ(pthread_getname_np(t, buf, 4), ERANGE);
    EQ(pthread_setname_np(t, "0123456789abcdef"), ERANGE);
    EQ(pthread_setname_np(t, NULL), EINVAL);
    EQ(sem_post(&go), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_setname_np(t, "late"), ESRCH);
    EQ(pthread_getname_np(t, buf, sizeof buf), ESRCH);
    return 0;
}
