/*
 * nlbase.c - the benchmark's baseline: the least a server can do for each
 * of netlabd's benchmark scenarios, so that bench/run.sh can quote netlabd
 * as a ratio to it measured in the same run.
 *
 *   nlbase [-t THREADS] [-g MESSAGE] echo|greeter|udp ADDRESS
 *
 * echo     a stream: every byte read is written back (lines need no
 *          framing to be echoed);
 * greeter  a stream: each connection gets MESSAGE and is closed;
 * udp      datagrams: each is sent back to its sender; with unix:PATH a
 *          unix datagram socket (what netlabd calls unix-dgram).
 *
 * ADDRESS is HOST:PORT (IPv4 literal; port 0 picks one) or unix:PATH (a
 * stream socket for echo and greeter, a datagram socket for udp).
 * One non-blocking epoll loop per thread; with -t N > 1 and an inet
 * address every thread has its own socket bound with SO_REUSEPORT, so
 * that the kernel spreads connections and datagrams (unix sockets cannot
 * share an address: all threads then wait on the one socket).  Once bound
 * it prints "listening ADDRESS" (the port actually bound) on stdout and
 * serves until SIGTERM or SIGINT.
 *
 * It makes no copy and no allocation per message: a read lands in a
 * per-thread buffer and is written back from there; what a client does
 * not take at once is kept in a per-connection buffer allocated then and
 * freed when drained.  Single file, libc only, for the bench alone.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CHUNK     16384
#define DGRAM_MAX 65536 /* the largest datagram, read whole */
#define MAX_EVENT 256

enum mode { ECHO, GREETER, UDP };

/* A stream connection's state: bytes the client has not taken yet. */
struct conn {
    int fd;
    char *pending;
    size_t len, off;
};

static enum mode mode;
static const char *message = "Thank you for connecting\n";
static volatile sig_atomic_t stop;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static int is_unix;
static char host[64]; /* as given, for the line that shows the address */

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void
die(const char *what)
{
    fprintf(stderr, "nlbase: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* The benchmark holds 10,000 idle connections and more: take every
 * descriptor the hard limit allows. */
static void
raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int
parse_address(const char *text)
{
    if (strncmp(text, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&addr;

        if (strlen(text + 5) >= sizeof(un->sun_path))
            return -1;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, text + 5);
        addr_len = sizeof(*un);
        is_unix = 1;
        return 0;
    }
    const char *colon = strrchr(text, ':');
    struct sockaddr_in *in = (struct sockaddr_in *)&addr;

    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    in->sin_family = AF_INET;
    in->sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
        return -1;
    addr_len = sizeof(*in);
    return 0;
}

/* A socket bound to addr (the port found by the first, for the others). */
static int
open_socket(int reuseport)
{
    int type = mode == UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;

    if (fd == -1)
        die("socket");
    if (!is_unix) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (reuseport &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
            die("SO_REUSEPORT");
    }
    if (bind(fd, (struct sockaddr *)&addr, addr_len) == -1)
        die("bind");
    if (type == SOCK_STREAM && listen(fd, 4096) == -1)
        die("listen");
    if (!is_unix) /* port 0: the others bind the one the kernel chose */
        getsockname(fd, (struct sockaddr *)&addr, &addr_len);
    return fd;
}

static void
conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

/* Writes what is pending; 0 when all went, 1 when some waits, -1 on error. */
static int
conn_flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n =
            send(c->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);

        if (n == -1)
            return errno == EAGAIN ? 1 : -1;
        c->off += (size_t)n;
    }
    free(c->pending);
    c->pending = NULL;
    c->len = c->off = 0;
    return 0;
}

/* Echoes what the client sent; -1 when the connection is done. */
static int
conn_echo(int ep, struct conn *c, char *buf)
{
    struct epoll_event ev = {.data.ptr = c};

    if (c->pending != NULL) { /* it takes its answers first */
        int rc = conn_flush(c);

        if (rc != 0)
            return rc == 1 ? 0 : -1;
        ev.events = EPOLLIN;
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    for (;;) {
        ssize_t n = read(c->fd, buf, CHUNK), w;

        if (n == 0 || (n == -1 && errno != EAGAIN))
            return -1;
        if (n == -1)
            return 0;
        w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
        if (w == -1 && errno != EAGAIN)
            return -1;
        if (w < n) { /* keep the rest, and stop reading until it went */
            size_t kept = (size_t)n - (size_t)(w > 0 ? w : 0);

            c->pending = malloc(kept);
            if (c->pending == NULL)
                return -1;
            memcpy(c->pending, buf + (n - (ssize_t)kept), kept);
            c->len = kept;
            c->off = 0;
            ev.events = EPOLLOUT;
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 0;
        }
    }
}

static void
accept_all(int ep, int lfd)
{
    size_t mlen = strlen(message);
    int on = 1;

    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;
        struct epoll_event ev = {.events = EPOLLIN};

        if (fd == -1)
            return;
        if (mode == GREETER) { /* one send: the message fits any buffer */
            (void)!send(fd, message, mlen, MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        if (!is_unix)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        ev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void
udp_all(int fd, char *buf)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        ssize_t n =
            recvfrom(fd, buf, DGRAM_MAX, 0, (struct sockaddr *)&peer, &plen);

        if (n == -1)
            return;
        /* An unbound unix sender has no address to answer. */
        if (plen > sizeof(sa_family_t))
            (void)!sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer,
                          plen);
    }
}

static void *
serve(void *arg)
{
    int lfd = (int)(long)arg, ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    struct epoll_event evs[MAX_EVENT];
    char *buf = malloc(DGRAM_MAX);

    if (ep == -1 || buf == NULL)
        die("epoll_create1");
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (!stop) {
        int n = epoll_wait(ep, evs, MAX_EVENT, 200);

        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (c == NULL && mode == UDP)
                udp_all(lfd, buf);
            else if (c == NULL)
                accept_all(ep, lfd);
            else if (conn_echo(ep, c, buf) == -1)
                conn_close(ep, c);
        }
    }
    free(buf);
    close(ep);
    return NULL;
}

int
main(int argc, char **argv)
{
    int threads = 1, opt, fds[64];
    pthread_t tid[64];
    char shown[128];

    while ((opt = getopt(argc, argv, "t:g:")) != -1) {
        if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'g')
            message = optarg;
        else
            goto usage;
    }
    if (argc - optind != 2 || threads < 1 || threads > 64)
        goto usage;
    if (strcmp(argv[optind], "echo") == 0)
        mode = ECHO;
    else if (strcmp(argv[optind], "greeter") == 0)
        mode = GREETER;
    else if (strcmp(argv[optind], "udp") == 0)
        mode = UDP;
    else
        goto usage;
    if (parse_address(argv[optind + 1]) == -1)
        goto usage;
    if (is_unix)
        unlink(((struct sockaddr_un *)&addr)->sun_path);
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    for (int i = 0; i < threads; i++)
        fds[i] = is_unix && i > 0 ? fds[0] : open_socket(threads > 1);
    if (is_unix)
        snprintf(shown, sizeof(shown), "%s", argv[optind + 1]);
    else
        snprintf(shown, sizeof(shown), "%s:%u", host,
                 ntohs(((struct sockaddr_in *)&addr)->sin_port));
    printf("listening %s\n", shown);
    fflush(stdout);
    /* The first loop runs on the main thread: with -t 1 the baseline is
     * single-threaded, as netlabd's libev model with one worker is (a
     * second thread makes glibc's system call wrappers do cancellation
     * bookkeeping that would count against the baseline). */
    for (int i = 1; i < threads; i++)
        if (pthread_create(&tid[i], NULL, serve, (void *)(long)fds[i]) != 0)
            die("pthread_create");
    serve((void *)(long)fds[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(tid[i], NULL);
    if (is_unix)
        unlink(((struct sockaddr_un *)&addr)->sun_path);
    return 0;
usage:
    fprintf(stderr, "usage: nlbase [-t THREADS] [-g MESSAGE] "
                    "echo|greeter|udp HOST:PORT|unix:PATH\n"
                    "  (udp with unix:PATH serves a unix datagram socket)\n");
    return 2;
}
