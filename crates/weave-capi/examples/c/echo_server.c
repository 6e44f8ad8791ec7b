/* A thread-per-connection TCP echo server: the main thread accepts, and
 * each connection gets a thread of its own that reads and writes back
 * until the client closes. An ordinary pthreads program with blocking
 * sockets; it runs on weave's ULTs when compiled with
 *
 *     cc -include weave/pthread.h echo_server.c \
 *        $(pkg-config --cflags --libs weave)
 *
 * (read, write, accept and connect then block only the calling ULT) and
 * on the system's threads when compiled with plain `cc -pthread`.
 *
 * Usage:
 *   echo_server serve PORT          serve on 127.0.0.1:PORT until killed
 *   echo_server check CLIENTS ROUNDS
 *       serve on a free port and run CLIENTS client threads against it,
 *       each sending ROUNDS messages and checking every echo; prints a
 *       summary and exits 0, or 1 on any mismatch or error. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* Writes all of buf; 0, or -1 on error. */
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *serve_connection(void *arg) {
    int fd = (int)(long)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("read");
            break;
        }
        if (write_all(fd, buf, (size_t)n) < 0) {
            perror("write");
            break;
        }
    }
    close(fd);
    return NULL;
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind");
    if (listen(fd, 128) < 0)
        die("listen");
    return fd;
}

static void *accept_loop(void *arg) {
    int lfd = (int)(long)arg;
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die("accept");
        }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, serve_connection, (void *)(long)c) != 0)
            die("pthread_create");
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

static int port_of(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("getsockname");
    return ntohs(a.sin_port);
}

static int server_port;
static int rounds;

/* One client: connects, sends `rounds` messages, checks each echo. */
static void *client(void *arg) {
    long id = (long)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)server_port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    long ok = 0;
    for (int r = 0; r < rounds; r++) {
        char msg[64], back[64];
        int n = snprintf(msg, sizeof msg, "client %ld round %d\n", id, r);
        if (write_all(fd, msg, (size_t)n) < 0)
            die("client write");
        int got = 0;
        while (got < n) {
            ssize_t m = read(fd, back + got, (size_t)(n - got));
            if (m <= 0)
                die("client read");
            got += (int)m;
        }
        if (memcmp(msg, back, (size_t)n) == 0)
            ok++;
    }
    close(fd);
    return (void *)ok;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "serve") == 0) {
        int lfd = listen_on(atoi(argv[2]));
        printf("listening on 127.0.0.1:%d\n", port_of(lfd));
        fflush(stdout);
        accept_loop((void *)(long)lfd);
        return 0;
    }
    if (argc != 4 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: %s serve PORT | %s check CLIENTS ROUNDS\n", argv[0], argv[0]);
        return 2;
    }
    int clients = atoi(argv[2]);
    rounds = atoi(argv[3]);
    int lfd = listen_on(0);
    server_port = port_of(lfd);
    pthread_t acceptor;
    if (pthread_create(&acceptor, NULL, accept_loop, (void *)(long)lfd) != 0)
        die("pthread_create");
    pthread_detach(acceptor);
    pthread_t *ts = calloc((size_t)clients, sizeof *ts);
    for (long i = 0; i < clients; i++)
        if (pthread_create(&ts[i], NULL, client, (void *)i) != 0)
            die("pthread_create");
    long echoed = 0;
    for (int i = 0; i < clients; i++) {
        void *ok;
        pthread_join(ts[i], &ok);
        echoed += (long)ok;
    }
    free(ts);
    long want = (long)clients * rounds;
    printf("%d clients, %ld of %ld messages echoed\n", clients, echoed, want);
    return echoed == want ? 0 : 1;
}
