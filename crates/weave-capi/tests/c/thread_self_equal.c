/* pthread_self in the new thread equals the id pthread_create stored,
 * which is in place before the thread runs; pthread_equal compares ids. */
#include "check.h"

static pthread_t stored[64];
static int seen_equal[64];

static void *start(void *arg) {
    intptr_t i = (intptr_t)arg;
    seen_equal[i] = pthread_equal(pthread_self(), stored[i]) != 0;
    return NULL;
}

int main(void) {
    for (intptr_t i = 0; i < 64; i++) EQ(pthread_create(&stored[i], NULL, start, (void *)i), 0);
    for (int i = 0; i < 64; i++) EQ(pthread_join(stored[i], NULL), 0);
    for (int i = 0; i < 64; i++) EQ(seen_equal[i], 1);
    CHECK(pthread_equal(pthread_self(), pthread_self()));
    CHECK(!pthread_equal(stored[0], stored[1]));
    CHECK(!pthread_equal(pthread_self(), stored[0]));
    return 0;
}
