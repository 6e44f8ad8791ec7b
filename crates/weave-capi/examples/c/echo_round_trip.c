/* An echo round trip between two threads on one LWP over a socket pair,
 * for measuring the ways a thread waits for a socket:
 *
 *   echo_round_trip read  ROUNDS   both sides block in read()
 *   echo_round_trip poll  ROUNDS   both sides wait in poll(POLLIN, -1),
 *                                  then read() what is there
 *
 * Prints the rounds done; the time is the caller's to take (wall clock, or
 * callgrind's instruction counts of two round counts, subtracted). */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2], use_poll;
static long rounds;

static void wait_readable(int fd) {
    if (!use_poll) return;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, -1) != 1 || !(p.revents & POLLIN)) abort();
}

static void *server(void *arg) {
    (void)arg;
    char buf[64];
    for (long i = 0; i < rounds; i++) {
        wait_readable(sv[1]);
        if (read(sv[1], buf, sizeof buf) != 64) abort();
        if (write(sv[1], buf, 64) != 64) abort();
    }
    return NULL;
}

static void *client(void *arg) {
    (void)arg;
    char buf[64];
    memset(buf, 'x', sizeof buf);
    for (long i = 0; i < rounds; i++) {
        if (write(sv[0], buf, 64) != 64) abort();
        wait_readable(sv[0]);
        if (read(sv[0], buf, sizeof buf) != 64) abort();
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s read|poll ROUNDS\n", argv[0]);
        return 2;
    }
    use_poll = strcmp(argv[1], "poll") == 0;
    rounds = atol(argv[2]);
    pthread_setconcurrency(1);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
    pthread_t s, c;
    pthread_create(&s, NULL, server, NULL);
    pthread_create(&c, NULL, client, NULL);
    pthread_join(c, NULL);
    pthread_join(s, NULL);
    printf("%ld rounds\n", rounds);
    return 0;
}
