/* pthread_setconcurrency / pthread_getconcurrency: 0 (automatic) at
 * first, the level set afterwards, EINVAL for a negative level. */
#include "check.h"

int main(void) {
    EQ(pthread_getconcurrency(), 0);
    EQ(pthread_setconcurrency(3), 0);
    EQ(pthread_getconcurrency(), 3);
    EQ(weave_concurrency(), 3);
    EQ(pthread_setconcurrency(-1), EINVAL);
    EQ(pthread_getconcurrency(), 3);
    EQ(pthread_setconcurrency(1 << 30), EAGAIN);
    EQ(pthread_setconcurrency(0), 0);
    EQ(pthread_getconcurrency(), 0);
    return 0;
}
