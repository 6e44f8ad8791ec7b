// A bare C "Hello, world!" server on one thread: the floor under the peers'
// HTTP rows. The same keep-alive framing as the harnesses (a request ends at
// an empty line; one response per request). Two modes:
//   epoll  level-triggered epoll, one recv and one send a request
//   uring  io_uring (liburing): a recv per connection kept queued, the send
//          queued beside the next recv, all submitted in one call a batch
// It prints the requests it served and its CPU time (user + system) per
// request when it gets SIGTERM. Build and run (liburing-dev from Debian):
//   cc -O2 -o hello hello.c -luring
//   taskset -c 1 ./hello epoll 9000 & taskset -c 0 wrk -t1 -c100 -d4s http://127.0.0.1:9000/
// docs/PERFORMANCE.md, "http_hello: what a request costs the kernel".
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";
#define MAXC 4096
#define BUF 4096
static char bufs[MAXC][BUF];
static int lens[MAXC];
static long served;
static volatile int stop;
static void on_term(int s) { (void)s; stop = 1; }

// Counts complete requests in the buffer, keeps the remainder.
static int take_requests(int fd) {
  int n = 0; char *b = bufs[fd]; int len = lens[fd]; char *p = b;
  for (;;) { char *e = memmem(p, len - (p - b), "\r\n\r\n", 4); if (!e) break; p = e + 4; n++; }
  int rest = len - (p - b); memmove(b, p, rest); lens[fd] = rest; return n;
}

static int listener(int port) {
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(l, (void *)&a, sizeof a) || listen(l, 4096)) { perror("listen"); exit(1); }
  return l;
}

static void run_epoll(int l) {
  int ep = epoll_create1(0); struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  struct epoll_event evs[256]; char out[sizeof RESP * 16];
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) { int c = accept4(l, NULL, NULL, SOCK_NONBLOCK); if (c >= 0 && c < MAXC) { int one = 1; setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); lens[c] = 0; struct epoll_event e = {.events = EPOLLIN, .data.fd = c}; epoll_ctl(ep, EPOLL_CTL_ADD, c, &e); } continue; }
      int r = recv(fd, bufs[fd] + lens[fd], BUF - lens[fd], 0);
      if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; close(fd); continue; }
      lens[fd] += r; int k = take_requests(fd);
      int m = 0; for (int j = 0; j < k; j++) { memcpy(out + m, RESP, sizeof RESP - 1); m += sizeof RESP - 1; }
      if (k) { send(fd, out, m, MSG_NOSIGNAL); served += k; }
    }
  }
}

enum { ACCEPT = 1, RECV = 2, SEND = 3 };
#define UD(kind, fd) (((unsigned long)(kind) << 32) | (unsigned)(fd))

static void run_uring(int l) {
  struct io_uring ring; if (io_uring_queue_init(4096, &ring, 0)) { perror("uring"); exit(1); }
  static char outs[MAXC][sizeof RESP * 16];
  struct io_uring_sqe *s = io_uring_get_sqe(&ring); io_uring_prep_multishot_accept(s, l, NULL, NULL, 0); s->user_data = UD(ACCEPT, l);
  while (!stop) {
    struct __kernel_timespec ts = {.tv_nsec = 100000000};
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR) { fprintf(stderr, "wait %d\n", rc); break; }
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      int kind = cqe->user_data >> 32, fd = (int)(cqe->user_data & 0xffffffff), res = cqe->res;
      if (kind == ACCEPT) {
        if (res >= 0 && res < MAXC) { int one = 1; setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); lens[res] = 0;
          struct io_uring_sqe *r = io_uring_get_sqe(&ring); io_uring_prep_recv(r, res, bufs[res], BUF, 0); r->user_data = UD(RECV, res); }
        if (!(cqe->flags & IORING_CQE_F_MORE)) { struct io_uring_sqe *a = io_uring_get_sqe(&ring); io_uring_prep_multishot_accept(a, l, NULL, NULL, 0); a->user_data = UD(ACCEPT, l); }
      } else if (kind == RECV) {
        if (res <= 0) { close(fd); continue; }
        lens[fd] += res; int k = take_requests(fd);
        if (k) { int m = 0; for (int j = 0; j < k; j++) { memcpy(outs[fd] + m, RESP, sizeof RESP - 1); m += sizeof RESP - 1; }
          struct io_uring_sqe *w = io_uring_get_sqe(&ring); io_uring_prep_send(w, fd, outs[fd], m, MSG_NOSIGNAL); w->user_data = UD(SEND, fd); served += k; }
        struct io_uring_sqe *r = io_uring_get_sqe(&ring); io_uring_prep_recv(r, fd, bufs[fd] + lens[fd], BUF - lens[fd], 0); r->user_data = UD(RECV, fd);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: srv epoll|uring PORT\n"); return 2; }
  signal(SIGTERM, on_term); signal(SIGINT, on_term);
  int l = listener(atoi(argv[2]));
  if (!strcmp(argv[1], "uring")) run_uring(l); else run_epoll(l);
  struct rusage ru; getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("%s served %ld cpu %.3f s: %.3f us/request (user %.3f s)\n", argv[1], served, cpu, served ? cpu / served * 1e6 : 0, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6);
  return 0;
}
