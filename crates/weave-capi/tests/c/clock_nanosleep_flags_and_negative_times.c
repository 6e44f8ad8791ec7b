/* clock_nanosleep (POSIX): "If the flag TIMER_ABSTIME is not set in the
 * flags argument, [...] relative"; TIMER_ABSTIME is a flag, and other bits
 * of flags do not make the call fail (Linux ignores them). EINVAL: "The
 * rqtp argument specified a nanosecond value less than zero or greater
 * than or equal to 1000 million", and a negative time is not a valid
 * timespec, absolute or relative. An absolute time already past returns
 * 0 at once. The errors are returned, not set in errno. */
#include "check.h"

int main(void) {
    struct timespec ms = {0, 1000000};
    EQ(clock_nanosleep(CLOCK_MONOTONIC, 0x2, &ms, NULL), 0);
    EQ(clock_nanosleep(CLOCK_REALTIME, 0x100, &ms, NULL), 0);
    /* TIMER_ABSTIME with other bits: still absolute (1 s after the epoch
     * of CLOCK_MONOTONIC is long past). */
    struct timespec past = {1, 0};
    EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME | 0x2, &past, NULL), 0);
    EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past, NULL), 0);
    struct timespec neg = {-1, 0};
    EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &neg, NULL), EINVAL);
    EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &neg, NULL), EINVAL);
    EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &neg, NULL), EINVAL);
    struct timespec bad = {0, 1000000000};
    EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &bad, NULL), EINVAL);
    bad.tv_nsec = -1;
    EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
    return 0;
}
