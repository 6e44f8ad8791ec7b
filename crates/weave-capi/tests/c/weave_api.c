/* weave's own API: weave_thread_create with a long name, a priority and a
 * bound LWP, shown in weave_thread_table; weave_lwp_table lists the LWPs;
 * weave_blocking runs a function and returns its value; bad options are
 * EINVAL. */
#include "check.h"

static sem_t go;

static void *waits(void *arg) {
    sem_wait(&go);
    return arg;
}

static void *add_one(void *arg) { return (void *)((intptr_t)arg + 1); }

int main(void) {
    EQ(sem_init(&go, 0, 0), 0);
    const char *name = "a thread name far longer than the sixteen bytes of glibc";
    weave_thread_options o = {.name = name, .priority = 29, .bound = 1};
    pthread_t t;
    EQ(weave_thread_create(&t, &o, waits, (void *)5), 0);

    static weave_thread_info rows[4096];
    size_t n = weave_thread_table(rows, 4096);
    int found = 0;
    for (size_t i = 0; i < n && i < 4096; i++) {
        if (!pthread_equal(rows[i].id, t)) continue;
        found = 1;
        CHECK(strcmp(rows[i].name, name) == 0);
        EQ(rows[i].priority, 28);
        EQ(rows[i].bound, 1);
        EQ(rows[i].os_thread, 0);
    }
    EQ(found, 1);
    EQ(weave_thread_table(NULL, 0), n);

    weave_lwp_info lwps[256];
    size_t l = weave_lwp_table(lwps, 256);
    CHECK(l >= 2); /* the pool and the bound thread's LWP */
    int bound_lwps = 0;
    for (size_t i = 0; i < l && i < 256; i++) bound_lwps += lwps[i].bound && lwps[i].alive;
    CHECK(bound_lwps >= 1);

    EQ(sem_post(&go), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    EQ((intptr_t)r, 5);

    EQ(weave_blocking(add_one, (void *)41), (void *)42);

    weave_thread_options bad = {.priority = 33};
    EQ(weave_thread_create(&t, &bad, waits, NULL), EINVAL);
    weave_thread_options detached = {.detached = 1};
    EQ(weave_thread_create(&t, &detached, add_one, NULL), 0);
    int j = pthread_join(t, NULL); /* detached: EINVAL while it runs, then ESRCH */
    CHECK(j == EINVAL || j == ESRCH);
    EQ(weave_set_concurrency(2), 0);
    EQ(weave_concurrency(), 2);
    return 0;
}
